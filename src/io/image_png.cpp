// PNG through libpng. libpng reports errors by calling an error function that must not return;
// ours records the message and longjmps back to decode_rows (the only frame with a setjmp).
// Only C data lives in the frames a longjmp skips: the pixel vector and message are owned by
// the caller, and the png structs are freed by a guard in the caller.
#include "core/error.h"
#include "io/image_decoders.h"

#include <png.h>

#include <algorithm>
#include <csetjmp>
#include <cstring>

namespace ocs::detail {

namespace {


struct PngState {
  const std::string* bytes = nullptr;
  size_t position = 0;
  char message[256] = "";
  bool truncated = false;
  std::jmp_buf jump;
};

void png_fail(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message);
  std::longjmp(state->jump, 1);
}

void png_warn(png_structp, png_const_charp) {}  // e.g. bad ancillary chunks: the pixels are fine

void png_read_memory(png_structp png, png_bytep out, png_size_t length) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (state->bytes->size() - state->position < length) {
    state->truncated = true;
    png_error(png, "unexpected end of file");
  }
  std::memcpy(out, state->bytes->data() + state->position, length);
  state->position += length;
}

// Decodes into `image`; returns false (with state.message set) when libpng gave up. The
// transforms ask libpng for 8-bit gray or RGB without alpha (see io/image.h).
bool decode_rows(png_structp png, png_infop info, PngState& state, Image& image,
                 std::vector<png_bytep>& rows) {
  if (setjmp(state.jump)) return false;
  png_set_read_fn(png, &state, png_read_memory);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  const int color_type = png_get_color_type(png, info);
  const int bit_depth = png_get_bit_depth(png, info);
  if (!image_size_allowed(width, height, state.message, sizeof state.message)) return false;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (bit_depth == 16) png_set_strip_16(png);
  // Alpha goes, whether stored or made from a tRNS chunk by the palette expansion.
  if ((color_type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
    png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  if (channels != 1 && channels != 3) {
    std::snprintf(state.message, sizeof state.message, "unexpected %d channels after conversion", channels);
    return false;
  }
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(static_cast<size_t>(width) * height * static_cast<size_t>(channels));
  rows.resize(height);
  for (png_uint_32 y = 0; y < height; ++y)
    rows[y] = image.pixels.data() + static_cast<size_t>(y) * width * static_cast<size_t>(channels);
  png_read_image(png, rows.data());
  png_read_end(png, nullptr);
  return true;
}

}  // namespace

bool is_png(const std::string& bytes) {
  return bytes.size() >= 8 && png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0;
}

Image decode_png(const std::string& bytes, const std::string& origin) {
  PngState state;
  state.bytes = &bytes;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, png_fail, png_warn);
  if (!png) user_error("cannot decode '{}': libpng could not start", origin);
  png_infop info = png_create_info_struct(png);
  struct Guard {
    png_structp* png;
    png_infop* info;
    ~Guard() { png_destroy_read_struct(png, info, nullptr); }
  } guard{&png, &info};
  if (!info) user_error("cannot decode '{}': libpng could not start", origin);
  Image image;
  std::vector<png_bytep> rows;
  if (!decode_rows(png, info, state, image, rows)) {
    if (state.truncated) user_error("PNG '{}' is truncated", origin);
    user_error("PNG '{}' is corrupt or unsupported: {}", origin, state.message);
  }
  return image;
}

}  // namespace ocs::detail
