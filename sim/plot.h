#pragma once

// PNG plots of a simulation run, written by a small self-contained encoder (zlib's deflate
// and crc32; no plotting library): a host-utilisation heatmap over time (with a colour
// legend), migrations over time, active hosts over time. Each carries a title naming the day
// and policy, tick marks every 6 h and the y-axis maximum, in a 3x5 pixel font.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "sim/cluster_sim.h"

namespace ballast::sim {

// An RGB image.
class Canvas {
 public:
  Canvas(int width, int height, std::uint32_t background = 0xffffff);
  int width() const { return width_; }
  int height() const { return height_; }
  void Set(int x, int y, std::uint32_t rgb);
  std::uint32_t Get(int x, int y) const;
  void FillRect(int x0, int y0, int x1, int y1, std::uint32_t rgb);  // inclusive
  void Line(int x0, int y0, int x1, int y1, std::uint32_t rgb);
  // Letters (drawn upper case), digits and . : % - ( ) / , < > = + _ in a 3x5 font scaled by
  // `scale`; any other character shows as a box.
  void Text(int x, int y, const std::string& text, std::uint32_t rgb, int scale = 2);
  // The PNG file's bytes (8-bit RGB, no interlace).
  std::string EncodePng() const;

 private:
  int width_;
  int height_;
  std::vector<std::uint8_t> pixels_;  // RGB rows
};

Status WriteFile(const std::string& path, const std::string& bytes);

// Utilisation colour: off hosts dark grey; 0..1 blue -> green -> yellow -> red; above 1
// (overloaded) magenta.
std::uint32_t UtilizationColor(float utilization);

// Writes heatmap.png, migrations.png and active_hosts.png into `dir` (which must exist),
// prefixed with `prefix`.
Status WritePlots(const SimResult& r, const std::string& dir, const std::string& prefix);

}  // namespace ballast::sim
