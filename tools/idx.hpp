// IDX files (the MNIST / Fashion-MNIST format), gzipped or not: images [n][rows][cols] uint8,
// labels [n] uint8.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qk_tools {

struct IdxImages {
  std::size_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;
};

bool read_idx_images(const std::string& path, IdxImages* out, std::string* error);
bool read_idx_labels(const std::string& path, std::vector<std::uint8_t>* out, std::string* error);

}  // namespace qk_tools
