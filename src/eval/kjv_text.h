// The King James Bible as a language-model dataset: the text, split, tokenization and windows
// of scripts/train_kjv_lm.py, reproduced exactly (that script's docstring is the definition;
// tests/kjv_lm_test.cpp checks that the token ids agree).
//
// Spec (ocs eval --data):  kjv:train | kjv:valid | kjv:test  [,vocab=FILE] [,seq=T]
//   vocab  token list, one per line, id = line number (default models/kjv_vocab.txt, relative
//          to the working directory: the vocabulary the training script writes next to the model)
//   seq    window length T (default: the model input's fixed second dimension, else 35)
// Text: Debian's bible-kjv (`bible -f Gen1:1-Rev22:21`, one verse per line). Split by books
// (0..65 in order): b % 10 == 9 test, b % 10 == 4 valid, else train.
// Samples: windows with stride T over the split's token stream; input ids[i .. i+T) feeds the
// model's single int64 input [N, T], target ids[i+1 .. i+T+1) is batch_targets() [N, T].
#pragma once

#include "data/sample_source.h"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ocs {

inline constexpr const char* kKjvDefaultVocab = "models/kjv_vocab.txt";
inline constexpr int64_t kKjvDefaultSeq = 35;

struct KjvVerse {
  int book = 0;      // 0 (Genesis) .. 65 (Revelation)
  std::string text;  // the verse without its reference
};

// All 31102 verses, from the `bible` program. UserError when it is missing or prints
// something unexpected.
std::vector<KjvVerse> read_kjv_verses();
// Parses the output of `bible -f ...` (one "<Book><chapter>:<verse> <text>" per line).
std::vector<KjvVerse> parse_kjv_verses(std::string_view listing);

// "train", "valid" or "test" for a book index.
std::string kjv_split_of(int book);
// Tokens of one verse, without the closing "<eos>": lowercase words [a-z]+('[a-z]+)* and each
// of . , ; : ? ! on its own; everything else separates.
std::vector<std::string> kjv_tokenize(std::string_view verse);
// Token ids of a split's stream (each verse's tokens, then "<eos>"); unknown tokens -> id of
// "<unk>". The vocabulary must hold "<unk>" and "<eos>".
std::vector<int64_t> kjv_token_ids(const std::vector<KjvVerse>& verses, const std::string& split,
                                   const std::vector<std::string>& vocab);
// One token per line, id = line number (a missing last newline is fine).
std::vector<std::string> read_vocab_file(const std::filesystem::path& path);

class KjvTextSource : public SampleSource {
 public:
  // Windows of `seq` tokens over `ids`, at most `limit` windows, `batch` windows per batch
  // (with `whole_batches`, the windows of a last partial batch are dropped).
  KjvTextSource(std::vector<int64_t> ids, int64_t seq, std::string input_name, int64_t limit,
                int64_t batch, bool whole_batches = false);
  std::optional<Feed> next() override;
  int64_t size() const override { return count_; }
  void rewind() override { position_ = 0; }
  // int64 [N, seq]: the next token at each input position.
  const Tensor* batch_targets() const override { return &targets_; }

 private:
  std::vector<int64_t> ids_;
  int64_t seq_ = kKjvDefaultSeq;
  std::string input_name_;
  Tensor targets_;
  int64_t count_ = 0;
  int64_t batch_ = 1;
  int64_t position_ = 0;
};

// The source for a "kjv:SPLIT[,vocab=FILE][,seq=T]" spec and a model with one int64 input.
std::unique_ptr<SampleSource> make_kjv_source(const std::string& spec, const Graph& graph, int64_t limit);

}  // namespace ocs
