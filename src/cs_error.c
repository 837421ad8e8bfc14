/* Turns CS_E* codes into text. */
#include "consensus/cs_error.h"

const char *cs_strerror(int code) {
  switch (code) {
#define CS_ERROR_CASE(name, value, text) \
  case value:                            \
    return text;
    CS_ERROR_LIST(CS_ERROR_CASE)
#undef CS_ERROR_CASE
    case 0:
      return "success";
    default:
      return "unknown error";
  }
}
