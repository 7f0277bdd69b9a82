#include "sim/plot.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

namespace ballast::sim {
namespace {

constexpr std::uint32_t kAxis = 0x404040;
constexpr std::uint32_t kGrid = 0xdddddd;

// 3x5 glyphs, one row per 3 low bits, top row first. Letters are drawn upper case.
const std::array<std::uint8_t, 5>* Glyph(char c) {
  static const std::array<std::uint8_t, 5> kDigits[10] = {
      {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
      {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}};
  static const std::array<std::uint8_t, 5> kLetters[26] = {
      {2, 5, 7, 5, 5}, {6, 5, 6, 5, 6}, {3, 4, 4, 4, 3}, {6, 5, 5, 5, 6}, {7, 4, 6, 4, 7},
      {7, 4, 6, 4, 4}, {3, 4, 5, 5, 3}, {5, 5, 7, 5, 5}, {7, 2, 2, 2, 7}, {1, 1, 1, 5, 2},
      {5, 5, 6, 5, 5}, {4, 4, 4, 4, 7}, {5, 7, 7, 5, 5}, {6, 5, 5, 5, 5}, {2, 5, 5, 5, 2},
      {6, 5, 6, 4, 4}, {2, 5, 5, 6, 3}, {6, 5, 6, 5, 5}, {3, 4, 2, 1, 6}, {7, 2, 2, 2, 2},
      {5, 5, 5, 5, 7}, {5, 5, 5, 5, 2}, {5, 5, 7, 7, 5}, {5, 5, 2, 5, 5}, {5, 5, 2, 2, 2},
      {7, 1, 2, 4, 7}};
  static const std::map<char, std::array<std::uint8_t, 5>> kPunctuation = {
      {'.', {0, 0, 0, 0, 2}}, {':', {0, 2, 0, 2, 0}}, {'%', {5, 1, 2, 4, 5}},
      {'-', {0, 0, 7, 0, 0}}, {'(', {1, 2, 2, 2, 1}}, {')', {4, 2, 2, 2, 4}},
      {'/', {1, 1, 2, 4, 4}}, {',', {0, 0, 0, 2, 4}}, {'>', {4, 2, 1, 2, 4}},
      {'<', {1, 2, 4, 2, 1}}, {'=', {0, 7, 0, 7, 0}}, {'+', {0, 2, 7, 2, 0}},
      {'_', {0, 0, 0, 0, 7}}, {' ', {0, 0, 0, 0, 0}}};
  static const std::array<std::uint8_t, 5> kUnknown = {7, 5, 5, 5, 7};
  if (c >= '0' && c <= '9') return &kDigits[c - '0'];
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  if (c >= 'A' && c <= 'Z') return &kLetters[c - 'A'];
  auto it = kPunctuation.find(c);
  return it != kPunctuation.end() ? &it->second : &kUnknown;
}

void AppendChunk(std::string& out, const char* type, const std::string& data) {
  const auto len = static_cast<std::uint32_t>(data.size());
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  std::string body(type, 4);
  body += data;
  out += body;
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
}

std::uint32_t Mix(std::uint32_t a, std::uint32_t b, double f) {
  auto ch = [&](int shift) {
    const double x = ((a >> shift) & 0xff) * (1 - f) + ((b >> shift) & 0xff) * f;
    return static_cast<std::uint32_t>(std::lround(x)) << shift;
  };
  return ch(16) | ch(8) | ch(0);
}

struct Frame {
  int left = 60;
  int right = 36;
  int top = 34;  // the title
  int bottom = 30;
};

// Title, axes, a tick every 6 h of `hours` (time of day), and the y maximum.
void DrawAxes(Canvas& c, const Frame& f, double hours, const std::string& ymax,
              const std::string& title) {
  c.Text(f.left, 8, title, kAxis);
  const int x0 = f.left;
  const int x1 = c.width() - f.right;
  const int y0 = f.top;
  const int y1 = c.height() - f.bottom;
  for (double h = 6; h < hours; h += 6) {
    const int x = x0 + static_cast<int>((x1 - x0) * h / hours);
    c.Line(x, y0, x, y1, kGrid);
  }
  c.Line(x0, y1, x1, y1, kAxis);
  c.Line(x0, y0, x0, y1, kAxis);
  for (double h = 0; h <= hours + 1e-9; h += 6) {
    const int x = x0 + static_cast<int>((x1 - x0) * h / hours);
    c.Line(x, y1, x, y1 + 4, kAxis);
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%02d:00", static_cast<int>(h) % 100);
    c.Text(x - 14, y1 + 8, buf, kAxis);
  }
  c.Text(4, y0, ymax, kAxis);
  c.Text(4, y1 - 10, "0", kAxis);
}

Status LineChart(const std::string& path, const std::string& title,
                 const std::vector<double>& times, const std::vector<double>& values,
                 double duration_s, bool bars, std::uint32_t color) {
  Canvas c(900, 300);
  Frame f;
  double vmax = 1;
  for (double v : values) vmax = std::max(vmax, v);
  // A round axis maximum.
  const double mag = std::pow(10.0, std::floor(std::log10(vmax)));
  double top = std::ceil(vmax / mag) * mag;
  if (top <= 0) top = 1;
  const double hours = std::max(duration_s / 3600, 1e-9);
  DrawAxes(c, f, hours, std::to_string(static_cast<long>(top)), title);
  const int x0 = f.left;
  const int x1 = c.width() - f.right;
  const int y0 = f.top;
  const int y1 = c.height() - f.bottom;
  auto X = [&](double t) { return x0 + static_cast<int>((x1 - x0) * t / duration_s); };
  auto Y = [&](double v) { return y1 - static_cast<int>((y1 - y0) * v / top); };
  for (std::size_t i = 0; i < values.size() && i < times.size(); ++i) {
    if (bars) {
      if (values[i] > 0) c.Line(X(times[i]), y1 - 1, X(times[i]), Y(values[i]), color);
    } else if (i > 0) {
      c.Line(X(times[i - 1]), Y(values[i - 1]), X(times[i]), Y(values[i]), color);
    }
  }
  return WriteFile(path, c.EncodePng());
}

// "20110303, POLICY SIM-DENSITY" for the titles.
std::string Subject(const SimResult& r) { return r.label + ", POLICY " + r.policy; }

}  // namespace

Canvas::Canvas(int width, int height, std::uint32_t background)
    : width_(width),
      height_(height),
      pixels_(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3) {
  FillRect(0, 0, width - 1, height - 1, background);
}

void Canvas::Set(int x, int y, std::uint32_t rgb) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                         static_cast<std::size_t>(x)) *
                        3;
  pixels_[i] = static_cast<std::uint8_t>(rgb >> 16);
  pixels_[i + 1] = static_cast<std::uint8_t>(rgb >> 8);
  pixels_[i + 2] = static_cast<std::uint8_t>(rgb);
}

std::uint32_t Canvas::Get(int x, int y) const {
  const std::size_t i = (static_cast<std::size_t>(y) * static_cast<std::size_t>(width_) +
                         static_cast<std::size_t>(x)) *
                        3;
  return (static_cast<std::uint32_t>(pixels_[i]) << 16) |
         (static_cast<std::uint32_t>(pixels_[i + 1]) << 8) | pixels_[i + 2];
}

void Canvas::FillRect(int x0, int y0, int x1, int y1, std::uint32_t rgb) {
  for (int y = std::max(0, y0); y <= std::min(height_ - 1, y1); ++y) {
    for (int x = std::max(0, x0); x <= std::min(width_ - 1, x1); ++x) Set(x, y, rgb);
  }
}

void Canvas::Line(int x0, int y0, int x1, int y1, std::uint32_t rgb) {
  const int dx = std::abs(x1 - x0);
  const int dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1;
  const int sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  while (true) {
    Set(x0, y0, rgb);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void Canvas::Text(int x, int y, const std::string& text, std::uint32_t rgb, int scale) {
  for (char ch : text) {
    const auto& g = *Glyph(ch);
    for (int row = 0; row < 5; ++row) {
      for (int col = 0; col < 3; ++col) {
        if (g[static_cast<std::size_t>(row)] & (4 >> col)) {
          FillRect(x + col * scale, y + row * scale, x + (col + 1) * scale - 1,
                   y + (row + 1) * scale - 1, rgb);
        }
      }
    }
    x += 4 * scale;
  }
}

std::string Canvas::EncodePng() const {
  std::string raw;
  const std::size_t row = static_cast<std::size_t>(width_) * 3;
  raw.reserve((row + 1) * static_cast<std::size_t>(height_));
  for (int y = 0; y < height_; ++y) {
    raw.push_back('\0');  // filter: none
    raw.append(reinterpret_cast<const char*>(pixels_.data()) + static_cast<std::size_t>(y) * row,
               row);
  }
  uLongf zlen = compressBound(static_cast<uLong>(raw.size()));
  std::string z(zlen, '\0');
  if (compress2(reinterpret_cast<Bytef*>(z.data()), &zlen,
                reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()),
                Z_BEST_SPEED) != Z_OK) {
    return {};
  }
  z.resize(zlen);
  std::string ihdr;
  for (std::uint32_t v :
       {static_cast<std::uint32_t>(width_), static_cast<std::uint32_t>(height_)}) {
    for (int i = 3; i >= 0; --i) ihdr.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8 bit, RGB, deflate, no filter, no interlace
  std::string png("\x89PNG\r\n\x1a\n", 8);
  AppendChunk(png, "IHDR", ihdr);
  AppendChunk(png, "IDAT", z);
  AppendChunk(png, "IEND", "");
  return png;
}

Status WriteFile(const std::string& path, const std::string& bytes) {
  if (bytes.empty()) return Status::Internal("nothing to write to " + path);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) return Status::Unavailable("cannot write " + path);
  return Status::Ok();
}

std::uint32_t UtilizationColor(float u) {
  if (u < 0) return 0x303030;
  if (u > 1) return 0xff00ff;
  if (u < 0.5f) return Mix(0x2040c0, 0x20b040, u / 0.5);
  if (u < 0.8f) return Mix(0x20b040, 0xf0d020, (u - 0.5) / 0.3);
  return Mix(0xf0d020, 0xe02020, (u - 0.8) / 0.2);
}

Status WritePlots(const SimResult& r, const std::string& dir, const std::string& prefix) {
  const std::string base = dir + "/" + prefix;
  const double duration = r.duration_hours * 3600;
  if (!r.host_utilization.empty()) {
    // Rows: hosts that were ever on (the rest would be a grey band); columns: steps.
    const std::size_t hosts = r.host_utilization.front().size();
    std::vector<std::size_t> rows;
    for (std::size_t h = 0; h < hosts; ++h) {
      for (const auto& step : r.host_utilization) {
        if (step[h] >= 0) {
          rows.push_back(h);
          break;
        }
      }
    }
    const int cols = static_cast<int>(r.host_utilization.size());
    const int cell_w = std::max(1, 1200 / std::max(cols, 1));
    const int cell_h = std::max(1, 800 / std::max<int>(static_cast<int>(rows.size()), 1));
    Frame f;
    Canvas c(f.left + cols * cell_w + f.right,
             f.top + static_cast<int>(rows.size()) * cell_h + f.bottom);
    for (int s = 0; s < cols; ++s) {
      for (std::size_t i = 0; i < rows.size(); ++i) {
        const float u = r.host_utilization[static_cast<std::size_t>(s)][rows[i]];
        c.FillRect(f.left + s * cell_w, f.top + static_cast<int>(i) * cell_h,
                   f.left + (s + 1) * cell_w - 1, f.top + static_cast<int>(i + 1) * cell_h - 1,
                   UtilizationColor(u));
      }
    }
    DrawAxes(c, f, std::max(r.duration_hours, 1e-9), std::to_string(rows.size()),
             "HOST CPU UTILISATION, A ROW PER HOST EVER ON - " + Subject(r));
    // Legend, top right: the colour scale and the two special colours.
    int x = c.width() - f.right - 330;
    for (int i = 0; i <= 100; ++i) {
      c.FillRect(x + 2 * i, 8, x + 2 * i + 1, 17, UtilizationColor(static_cast<float>(i) / 100));
    }
    c.Text(x, 21, "0%", kAxis);
    c.Text(x + 170, 21, "100%", kAxis);
    x += 215;
    c.FillRect(x, 8, x + 9, 17, UtilizationColor(1.5f));
    c.Text(x + 13, 10, ">100%", kAxis);
    x += 60;
    c.FillRect(x, 8, x + 9, 17, UtilizationColor(-1));
    c.Text(x + 13, 10, "OFF", kAxis);
    BALLAST_RETURN_IF_ERROR(WriteFile(base + "heatmap.png", c.EncodePng()));
  }
  std::vector<double> migrations(r.migrations_started.begin(), r.migrations_started.end());
  std::vector<double> active(r.active_hosts.begin(), r.active_hosts.end());
  BALLAST_RETURN_IF_ERROR(LineChart(base + "migrations.png",
                                    "MIGRATIONS STARTED PER STEP - " + Subject(r), r.times,
                                    migrations, duration, true, 0xc03030));
  return LineChart(base + "active_hosts.png", "HOSTS ON - " + Subject(r), r.times, active, duration,
                   false, 0x2050c0);
}

}  // namespace ballast::sim
