#include "idx.hpp"

#include <zlib.h>

namespace qk_tools {
namespace {

// Whole file through zlib (gzread reads plain files unchanged).
bool read_all(const std::string& path, std::vector<std::uint8_t>* data, std::string* error) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = "cannot open " + path;
    return false;
  }
  std::uint8_t buf[1 << 16];
  for (;;) {
    const int n = gzread(f, buf, sizeof buf);
    if (n < 0) {
      gzclose(f);
      *error = "cannot read " + path;
      return false;
    }
    if (n == 0) break;
    data->insert(data->end(), buf, buf + n);
  }
  gzclose(f);
  return true;
}

std::uint32_t be32(const std::uint8_t* p) {
  return (static_cast<std::uint32_t>(p[0]) << 24) | (static_cast<std::uint32_t>(p[1]) << 16) |
         (static_cast<std::uint32_t>(p[2]) << 8) | p[3];
}

}  // namespace

bool read_idx_images(const std::string& path, IdxImages* out, std::string* error) {
  std::vector<std::uint8_t> d;
  if (!read_all(path, &d, error)) return false;
  if (d.size() < 16 || be32(d.data()) != 0x00000803u) {
    *error = path + ": not an IDX image file (magic 0x803)";
    return false;
  }
  out->count = be32(d.data() + 4);
  out->rows = be32(d.data() + 8);
  out->cols = be32(d.data() + 12);
  if (out->rows == 0 || out->cols == 0 || out->rows > 4096 || out->cols > 4096 ||
      out->count > (d.size() - 16) / (out->rows * out->cols)) {
    *error = path + ": header and size disagree";
    return false;
  }
  out->pixels.assign(d.begin() + 16, d.begin() + 16 + static_cast<std::ptrdiff_t>(out->count * out->rows * out->cols));
  return true;
}

bool read_idx_labels(const std::string& path, std::vector<std::uint8_t>* out, std::string* error) {
  std::vector<std::uint8_t> d;
  if (!read_all(path, &d, error)) return false;
  if (d.size() < 8 || be32(d.data()) != 0x00000801u || be32(d.data() + 4) != d.size() - 8) {
    *error = path + ": not an IDX label file (magic 0x801)";
    return false;
  }
  out->assign(d.begin() + 8, d.end());
  return true;
}

}  // namespace qk_tools
