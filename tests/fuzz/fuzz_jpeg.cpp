// JPEG bytes -> decode_image (image_target.h); the seed corpus holds JPEG files.
static const char* const kOrigin = "fuzz.jpeg";
#include "image_target.h"
