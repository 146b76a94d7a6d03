#include "eval/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>

namespace ocs {

std::string read_gzip_file(const std::filesystem::path& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) user_error("cannot open '{}' (is dataset-fashion-mnist installed?)", path.string());
  std::string data;
  char chunk[1 << 16];
  int n = 0;
  while ((n = gzread(file, chunk, sizeof chunk)) > 0) data.append(chunk, static_cast<size_t>(n));
  int err = 0;
  const char* message = gzerror(file, &err);
  gzclose(file);
  if (n < 0 || (err != Z_OK && err != Z_STREAM_END))
    user_error("'{}' is not a readable gzip file: {}", path.string(), message);
  return data;
}

namespace {

uint32_t big_endian_u32(const std::string& bytes, size_t offset) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset])) << 24) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + 2])) << 8) |
         static_cast<uint32_t>(static_cast<uint8_t>(bytes[offset + 3]));
}

// IDX: magic 0x00000803 (images: count, rows, cols) or 0x00000801 (labels: count), big-endian.
std::vector<uint8_t> read_idx(const std::filesystem::path& path, uint32_t magic, int64_t& count) {
  std::string bytes = read_gzip_file(path);
  const size_t header = magic == 0x803 ? 16 : 8;
  if (bytes.size() < header || big_endian_u32(bytes, 0) != magic)
    user_error("'{}' is not an IDX {} file", path.string(), magic == 0x803 ? "image" : "label");
  count = big_endian_u32(bytes, 4);
  size_t per_item = 1;
  if (magic == 0x803) {
    if (big_endian_u32(bytes, 8) != 28 || big_endian_u32(bytes, 12) != 28)
      user_error("'{}' holds images that are not 28x28", path.string());
    per_item = 28 * 28;
  }
  if (bytes.size() != header + static_cast<size_t>(count) * per_item)
    user_error("'{}' is truncated: {} items declared, {} bytes present", path.string(), count, bytes.size());
  return {bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end()};
}

}  // namespace

FashionMnistSource::FashionMnistSource(const std::filesystem::path& dir, const std::string& split,
                                       std::string input_name, int64_t limit, int64_t batch)
    : input_name_(std::move(input_name)), batch_(std::max<int64_t>(1, batch)) {
  if (split != "train" && split != "test")
    user_error("Fashion-MNIST split '{}' is unknown; use train or test", split);
  const std::string prefix = split == "train" ? "train" : "t10k";
  int64_t images = 0, labels = 0;
  images_ = read_idx(dir / (prefix + "-images-idx3-ubyte.gz"), 0x803, images);
  labels_ = read_idx(dir / (prefix + "-labels-idx1-ubyte.gz"), 0x801, labels);
  if (images != labels) user_error("Fashion-MNIST {}: {} images but {} labels", split, images, labels);
  count_ = std::min(images, limit);
}

std::optional<Feed> FashionMnistSource::next() {
  if (position_ >= count_) return std::nullopt;
  const int64_t n = std::min(batch_, count_ - position_);
  Tensor x(DType::Float32, {n, 1, 28, 28});
  float* out = x.data<float>();
  const uint8_t* in = images_.data() + position_ * 28 * 28;
  for (int64_t i = 0; i < n * 28 * 28; ++i) out[i] = (static_cast<float>(in[i]) / 255.0f - 0.5f) / 0.5f;
  batch_labels_.assign(labels_.begin() + position_, labels_.begin() + position_ + n);
  position_ += n;
  Feed feed;
  feed[input_name_] = std::move(x);
  return feed;
}

}  // namespace ocs
