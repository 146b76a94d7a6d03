#include "eval/kjv_text.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sys/wait.h>
#include <unordered_map>

namespace ocs {
namespace {

constexpr const char* kBibleCommand = "bible -f Gen1:1-Rev22:21";
constexpr size_t kBooks = 66;
constexpr size_t kVerses = 31102;

bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_letter(char c) { return is_upper(c) || is_lower(c); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_punctuation(char c) {
  return c == '.' || c == ',' || c == ';' || c == ':' || c == '?' || c == '!';
}

// Splits "1Sm1:1 Now there was ..." into book "1Sm" and the text; false when the line does not
// have that form ([0-9]?[A-Za-z]+[0-9]+:[0-9]+ then one space).
bool split_reference(std::string_view line, std::string_view& book, std::string_view& text) {
  size_t i = 0;
  if (i < line.size() && is_digit(line[i])) ++i;
  const size_t letters = i;
  while (i < line.size() && is_letter(line[i])) ++i;
  if (i == letters) return false;
  book = line.substr(0, i);
  const size_t chapter = i;
  while (i < line.size() && is_digit(line[i])) ++i;
  if (i == chapter || i >= line.size() || line[i] != ':') return false;
  const size_t verse = ++i;
  while (i < line.size() && is_digit(line[i])) ++i;
  if (i == verse || i >= line.size() || line[i] != ' ') return false;
  text = line.substr(i + 1);
  return true;
}

// "key=value" options after the split name.
struct KjvSpec {
  std::string split;
  std::string vocab = kKjvDefaultVocab;
  int64_t seq = 0;  // 0: from the model
};

KjvSpec parse_spec(const std::string& spec) {
  KjvSpec parsed;
  std::string_view rest(spec);
  rest.remove_prefix(4);  // "kjv:"
  bool first = true;
  while (true) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    if (first) {
      parsed.split = std::string(part);
      first = false;
    } else if (part.rfind("vocab=", 0) == 0) {
      parsed.vocab = std::string(part.substr(6));
    } else if (part.rfind("seq=", 0) == 0) {
      try {
        parsed.seq = std::stoll(std::string(part.substr(4)));
      } catch (const std::exception&) {
        parsed.seq = -1;
      }
      if (parsed.seq <= 0) user_error("data '{}': seq must be a positive integer", spec);
    } else {
      user_error("data '{}': unknown option '{}' (kjv:SPLIT[,vocab=FILE][,seq=T])", spec, part);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (parsed.split != "train" && parsed.split != "valid" && parsed.split != "test")
    user_error("data '{}': the split must be train, valid or test", spec);
  return parsed;
}

}  // namespace

std::vector<KjvVerse> parse_kjv_verses(std::string_view listing) {
  std::vector<KjvVerse> verses;
  std::string_view previous_book;
  int book_index = -1;
  while (!listing.empty()) {
    const size_t end = listing.find('\n');
    const std::string_view line = listing.substr(0, end);
    listing.remove_prefix(end == std::string_view::npos ? listing.size() : end + 1);
    if (line.empty()) continue;
    std::string_view book, text;
    if (!split_reference(line, book, text))
      user_error("unexpected line from `{}`: '{}'", kBibleCommand, line.substr(0, 80));
    if (book != previous_book) {
      previous_book = book;
      ++book_index;
    }
    verses.push_back({book_index, std::string(text)});
  }
  return verses;
}

std::vector<KjvVerse> read_kjv_verses() {
  FILE* pipe = popen(kBibleCommand, "r");
  if (!pipe) user_error("cannot run `{}`", kBibleCommand);
  std::string listing;
  char chunk[1 << 16];
  size_t n = 0;
  while ((n = fread(chunk, 1, sizeof chunk, pipe)) > 0) listing.append(chunk, n);
  const int status = pclose(pipe);
  if (status != 0 || listing.empty())
    user_error("`{}` failed (exit status {}); the kjv data needs Debian's bible-kjv and "
               "bible-kjv-text packages", kBibleCommand, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  std::vector<KjvVerse> verses = parse_kjv_verses(listing);
  const size_t books = verses.empty() ? 0 : static_cast<size_t>(verses.back().book) + 1;
  if (books != kBooks || verses.size() != kVerses)
    user_error("`{}` printed {} books and {} verses; expected {} and {}", kBibleCommand, books,
               verses.size(), kBooks, kVerses);
  return verses;
}

std::string kjv_split_of(int book) {
  if (book % 10 == 9) return "test";
  if (book % 10 == 4) return "valid";
  return "train";
}

std::vector<std::string> kjv_tokenize(std::string_view verse) {
  std::vector<std::string> tokens;
  auto lower = [](char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; };
  size_t i = 0;
  while (i < verse.size()) {
    const char c = verse[i];
    if (is_letter(c)) {
      // A word: letters, and apostrophes with letters on both sides ("king's").
      std::string word;
      while (true) {
        while (i < verse.size() && is_letter(verse[i])) word += lower(verse[i++]);
        if (i + 1 < verse.size() && verse[i] == '\'' && is_letter(verse[i + 1])) {
          word += verse[i++];
          continue;
        }
        break;
      }
      tokens.push_back(std::move(word));
    } else {
      if (is_punctuation(c)) tokens.emplace_back(1, c);
      ++i;
    }
  }
  return tokens;
}

std::vector<int64_t> kjv_token_ids(const std::vector<KjvVerse>& verses, const std::string& split,
                                   const std::vector<std::string>& vocab) {
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < vocab.size(); ++i) index.emplace(vocab[i], static_cast<int64_t>(i));
  auto unk = index.find("<unk>");
  auto eos = index.find("<eos>");
  if (unk == index.end() || eos == index.end())
    user_error("the vocabulary has no '<unk>' or no '<eos>' token; is it the one of a kjv model?");
  std::vector<int64_t> ids;
  for (const KjvVerse& verse : verses) {
    if (kjv_split_of(verse.book) != split) continue;
    for (const std::string& token : kjv_tokenize(verse.text)) {
      auto it = index.find(token);
      ids.push_back(it == index.end() ? unk->second : it->second);
    }
    ids.push_back(eos->second);
  }
  return ids;
}

std::vector<std::string> read_vocab_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in)
    user_error("cannot read the vocabulary '{}' (give kjv:SPLIT,vocab=FILE; the training script "
               "writes models/kjv_vocab.txt)", path.string());
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) vocab.push_back(line);
  if (vocab.empty()) user_error("the vocabulary '{}' is empty", path.string());
  return vocab;
}

KjvTextSource::KjvTextSource(std::vector<int64_t> ids, int64_t seq, std::string input_name,
                             int64_t limit, int64_t batch, bool whole_batches)
    : ids_(std::move(ids)), seq_(seq), input_name_(std::move(input_name)), batch_(std::max<int64_t>(1, batch)) {
  OCS_CHECK(seq_ > 0, "window length {}", seq_);
  // A window needs seq + 1 tokens (the last target is the token after the window).
  const int64_t tokens = static_cast<int64_t>(ids_.size());
  count_ = std::min<int64_t>(tokens > 0 ? (tokens - 1) / seq_ : 0, limit);
  if (whole_batches) count_ -= count_ % batch_;
  if (count_ <= 0)
    user_error("the text has {} tokens, too few for {} window(s) of {}", tokens, whole_batches ? batch_ : 1, seq_);
}

std::optional<Feed> KjvTextSource::next() {
  if (position_ >= count_) return std::nullopt;
  const int64_t n = std::min(batch_, count_ - position_);
  Tensor input(DType::Int64, {n, seq_});
  targets_ = Tensor(DType::Int64, {n, seq_});
  int64_t* in = input.data<int64_t>();
  int64_t* target = targets_.data<int64_t>();
  for (int64_t w = 0; w < n; ++w) {
    const int64_t start = (position_ + w) * seq_;
    std::copy_n(ids_.begin() + start, seq_, in + w * seq_);
    std::copy_n(ids_.begin() + start + 1, seq_, target + w * seq_);
  }
  position_ += n;
  Feed feed;
  feed[input_name_] = std::move(input);
  return feed;
}

std::unique_ptr<SampleSource> make_kjv_source(const std::string& spec, const Graph& graph, int64_t limit) {
  KjvSpec parsed = parse_spec(spec);
  if (graph.inputs.size() != 1)
    user_error("kjv data feeds one input (token ids), but the model has {}", graph.inputs.size());
  const Value& input = graph.values[graph.inputs[0]];
  if (input.dtype != DType::Int64)
    user_error("kjv data feeds int64 token ids, but the model input '{}' is {}", input.name,
               dtype_name(input.dtype));
  if (input.shape && input.shape->size() != 2)
    user_error("kjv data feeds token ids [N, T], but the model input '{}' has rank {}", input.name,
               input.shape->size());
  int64_t batch = 32;
  int64_t model_seq = -1;
  if (input.shape) {
    if ((*input.shape)[0] > 0) batch = (*input.shape)[0];
    model_seq = (*input.shape)[1];
  }
  if (parsed.seq == 0) parsed.seq = model_seq > 0 ? model_seq : kKjvDefaultSeq;
  if (model_seq > 0 && parsed.seq != model_seq)
    user_error("data '{}': seq={} but the model input '{}' takes windows of {}", spec, parsed.seq,
               input.name, model_seq);
  const std::vector<std::string> vocab = read_vocab_file(parsed.vocab);
  std::vector<int64_t> ids = kjv_token_ids(read_kjv_verses(), parsed.split, vocab);
  // A model with a fixed batch size takes only whole batches.
  const bool fixed_batch = input.shape && (*input.shape)[0] > 0;
  return std::make_unique<KjvTextSource>(std::move(ids), parsed.seq, input.name, limit, batch, fixed_batch);
}

}  // namespace ocs
