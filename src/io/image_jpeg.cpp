// JPEG through libjpeg(-turbo). libjpeg's default error handler calls exit(); ours records the
// message and longjmps back to decode_scanlines (the only frame with a setjmp). Only C data
// lives in the frames a longjmp skips; the decompressor is destroyed by a guard in the caller.
// Corrupt-data warnings are tolerated (real datasets hold a few such files and libjpeg decodes
// them), except a premature end of file, which libjpeg would silently fill with gray.
#include "core/error.h"
#include "io/image_decoders.h"

#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>

#include <csetjmp>

namespace ocs::detail {

namespace {


struct JpegErrors {
  jpeg_error_mgr manager;  // first member: libjpeg hands us a pointer to it
  char message[JMSG_LENGTH_MAX] = "";
  bool truncated = false;
  std::jmp_buf jump;
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, errors->message);
  std::longjmp(errors->jump, 1);
}

void jpeg_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  auto* errors = reinterpret_cast<JpegErrors*>(cinfo->err);
  cinfo->err->num_warnings++;
  if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
    errors->truncated = true;
    jpeg_fail(cinfo);
  }
}

// Adobe CMYK JPEGs store inverted values C' = 255 - C (PIL reads them the same way), so
// R = (255 - C)(255 - K) / 255 = C' K' / 255, rounded.
uint8_t inverted_product(uint32_t a, uint32_t b) { return static_cast<uint8_t>((a * b + 127) / 255); }

bool decode_scanlines(jpeg_decompress_struct& cinfo, JpegErrors& errors, const std::string& bytes,
                      Image& image, std::vector<uint8_t>& row) {
  if (setjmp(errors.jump)) return false;
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  // libjpeg converts YCbCr to RGB and YCCK to CMYK; gray stays gray.
  const bool cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE
                          : cmyk                                  ? JCS_CMYK
                                                                  : JCS_RGB;
  if (!image_size_allowed(cinfo.image_width, cinfo.image_height, errors.message, sizeof errors.message)) return false;
  jpeg_start_decompress(&cinfo);
  const size_t width = cinfo.output_width;
  const size_t stored_channels = static_cast<size_t>(cinfo.output_components);
  image.width = cinfo.output_width;
  image.height = cinfo.output_height;
  image.channels = cmyk ? 3 : static_cast<int64_t>(stored_channels);
  image.pixels.resize(width * cinfo.output_height * static_cast<size_t>(image.channels));
  row.resize(width * stored_channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    uint8_t* out = image.pixels.data() + static_cast<size_t>(cinfo.output_scanline) * width *
                                             static_cast<size_t>(image.channels);
    JSAMPROW rows[1] = {cmyk ? row.data() : out};
    jpeg_read_scanlines(&cinfo, rows, 1);
    if (cmyk)
      for (size_t x = 0; x < width; ++x) {
        const uint8_t* in = row.data() + x * 4;
        for (size_t c = 0; c < 3; ++c) out[x * 3 + c] = inverted_product(in[c], in[3]);
      }
  }
  jpeg_finish_decompress(&cinfo);
  return true;
}

}  // namespace

bool is_jpeg(const std::string& bytes) {
  return bytes.size() >= 3 && static_cast<uint8_t>(bytes[0]) == 0xFF &&
         static_cast<uint8_t>(bytes[1]) == 0xD8 && static_cast<uint8_t>(bytes[2]) == 0xFF;
}

Image decode_jpeg(const std::string& bytes, const std::string& origin) {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors{};
  cinfo.err = jpeg_std_error(&errors.manager);
  errors.manager.error_exit = jpeg_fail;
  errors.manager.emit_message = jpeg_message;
  struct Guard {
    jpeg_decompress_struct* cinfo;
    ~Guard() { jpeg_destroy_decompress(cinfo); }
  } guard{&cinfo};
  Image image;
  std::vector<uint8_t> row;
  if (!decode_scanlines(cinfo, errors, bytes, image, row)) {
    if (errors.truncated) user_error("JPEG '{}' is truncated", origin);
    user_error("JPEG '{}' is corrupt or unsupported: {}", origin, errors.message);
  }
  return image;
}

}  // namespace ocs::detail
