// PNG bytes -> decode_image (image_target.h); the seed corpus holds PNG files.
static const char* const kOrigin = "fuzz.png";
#include "image_target.h"
