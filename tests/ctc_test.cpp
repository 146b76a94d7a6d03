// CTC greedy decoding and key files, on hand-made score tensors: argmax per step, repeats
// merged, blanks dropped, the space class appended as PaddleOCR's use_space_char does.
#include "core/error.h"
#include "eval/ctc.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace ocs {
namespace {

namespace fs = std::filesystem;

// Scores [1, T, C] with 1 at the given class of each step and 0 elsewhere.
Tensor one_hot_steps(const std::vector<int64_t>& classes, int64_t class_count) {
  Tensor scores(DType::Float32, {1, static_cast<int64_t>(classes.size()), class_count});
  float* data = scores.data<float>();
  std::fill(data, data + scores.numel(), 0.0f);
  for (size_t t = 0; t < classes.size(); ++t) data[t * class_count + classes[t]] = 1.0f;
  return scores;
}

fs::path write_file(const std::string& name, const std::string& bytes) {
  const fs::path path = fs::temp_directory_path() / ("ocs_ctc_test_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(CtcDecoder, MergesRepeatsThenDropsBlanks) {
  // classes: 0 blank, 1 'a', 2 'b', 3 ' ' (keys a, b + space)
  const CtcDecoder decoder({"a", "b"}, 4, "test keys");
  EXPECT_EQ(decoder.decode_classes({1, 1, 0, 1}), "aa");   // a blank separates two a's
  EXPECT_EQ(decoder.decode_classes({1, 1, 1}), "a");       // a run is one character
  EXPECT_EQ(decoder.decode_classes({0, 1, 2, 2, 0, 0, 2}), "abb");
  EXPECT_EQ(decoder.decode_classes({0, 0, 0}), "");
  EXPECT_EQ(decoder.decode_classes({}), "");
  EXPECT_EQ(decoder.decode_classes({1, 3, 3, 2}), "a b");  // the appended space class
  EXPECT_EQ(decoder.symbol(0), "");
  EXPECT_EQ(decoder.symbol(3), " ");
}

TEST(CtcDecoder, DecodesArgmaxOfEachStepOfEachSample) {
  const CtcDecoder decoder({"a", "b"}, 3, "test keys");  // no space class
  // Two samples, three steps, scores that are not one-hot; the tie at sample 1 step 2 goes to
  // the lower class (blank), as NumPy's argmax does.
  const Tensor scores = Tensor::from_vector<float>(
      {2, 3, 3}, {0.1f, 0.7f, 0.2f, /**/ 0.2f, 0.5f, 0.3f, /**/ 0.0f, 0.1f, 0.9f,
                  -1.0f, -3.0f, 2.0f, /**/ 5.0f, 1.0f, 4.0f, /**/ 3.0f, 0.0f, 3.0f});
  EXPECT_EQ(decoder.decode(scores), (std::vector<std::string>{"ab", "b"}));
  EXPECT_EQ(decoder.decode(one_hot_steps({2, 0, 2, 1}, 3)), (std::vector<std::string>{"bba"}));
}

TEST(CtcDecoder, KeepsMultiByteCharacters) {
  const CtcDecoder decoder({"\xe4\xbd\xa0", "\xe5\xa5\xbd", "\xc3\xa9"}, 5, "test keys");  // 你 好 é
  EXPECT_EQ(decoder.decode_classes({1, 1, 2, 0, 2, 4, 3}), "\xe4\xbd\xa0\xe5\xa5\xbd\xe5\xa5\xbd \xc3\xa9");
}

TEST(CtcDecoder, RejectsClassCountsThatDoNotFitTheKeys) {
  EXPECT_NO_THROW(CtcDecoder({"a", "b"}, 3, "k.txt"));
  EXPECT_NO_THROW(CtcDecoder({"a", "b"}, 4, "k.txt"));
  try {
    CtcDecoder({"a", "b"}, 6625, "keys/ppocr_keys.txt");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("keys/ppocr_keys.txt"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("6625"), std::string::npos) << e.what();
  }
  const CtcDecoder decoder({"a"}, 2, "k.txt");
  EXPECT_THROW(decoder.decode(one_hot_steps({1}, 3)), UserError);  // output has 3 classes
  EXPECT_THROW(decoder.decode(Tensor::from_vector<float>({2, 2}, {0, 1, 1, 0})), UserError);
}

TEST(CtcKeys, ReadsOneCharacterPerLineWithOptionalFinalNewline) {
  const fs::path unix_keys = write_file("unix.txt", "a\n\xe4\xbd\xa0\n:\n");
  EXPECT_EQ(read_ctc_keys(unix_keys), (std::vector<std::string>{"a", "\xe4\xbd\xa0", ":"}));
  const fs::path no_final = write_file("nofinal.txt", "a\r\nb\r\nc");
  EXPECT_EQ(read_ctc_keys(no_final), (std::vector<std::string>{"a", "b", "c"}));
  const fs::path empty = write_file("empty.txt", "");
  EXPECT_THROW(read_ctc_keys(empty), UserError);
  EXPECT_THROW(read_ctc_keys(fs::temp_directory_path() / "ocs_no_such_keys.txt"), UserError);
  fs::remove(unix_keys);
  fs::remove(no_final);
  fs::remove(empty);
}

}  // namespace
}  // namespace ocs
