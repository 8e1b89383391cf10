// Unicode property tables (Unicode 16.0.0) behind fastprep/unicode.h.
#include "fastprep/unicode.h"

namespace fastprep {
namespace detail {
#include "unicode_tables.inc"
}  // namespace detail

const char* general_category_name(GeneralCategory c) {
  static const char* const kNames[] = {
      "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe",
      "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
  };
  const auto i = static_cast<unsigned>(c);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "??";
}

}  // namespace fastprep
