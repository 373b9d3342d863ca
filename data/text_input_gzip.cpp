// gzip input for glm3d prep (data/text_input.h), through zlib's inflate.
#include "core/check.h"
#include "data/text_input.h"

#include <zlib.h>

#include <algorithm>

namespace glm3d {

namespace {
// inflateEnd on every way out.
struct Inflater {
  z_stream zs{};
  Inflater() { GLM3D_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK) << "zlib inflateInit2 failed"; } // gzip only
  ~Inflater() { inflateEnd(&zs); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
};
} // namespace

std::string gunzip(std::string_view bytes, const std::string& path) {
  Inflater z;
  std::string out;
  size_t fed = 0; // bytes handed to zlib so far
  char buf[1 << 16];
  for (;;) {
    if (z.zs.avail_in == 0 && fed < bytes.size()) { // avail_in is 32-bit: feed at most 1 GiB at a time
      const size_t n = std::min(bytes.size() - fed, size_t(1) << 30);
      z.zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + fed));
      z.zs.avail_in = uInt(n);
      fed += n;
    }
    z.zs.next_out = reinterpret_cast<Bytef*>(buf);
    z.zs.avail_out = sizeof buf;
    const int ret = inflate(&z.zs, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.zs.avail_out);
    const size_t used = fed - z.zs.avail_in;
    if (ret == Z_STREAM_END) {
      // Another member may follow (as `cat a.gz b.gz` makes); gzip itself ignores zero padding.
      const std::string_view rest = bytes.substr(used);
      if (rest.find_first_not_of('\0') == std::string_view::npos)
        return out;
      GLM3D_USAGE_CHECK(rest.substr(0, 2) == "\x1F\x8B")
          << "input file " << path << ": bytes after the end of the gzip data (at compressed byte " << used
          << ")";
      GLM3D_CHECK(inflateReset(&z.zs) == Z_OK) << "zlib inflateReset failed";
      continue;
    }
    GLM3D_USAGE_CHECK(!(ret == Z_BUF_ERROR && z.zs.avail_in == 0 && fed == bytes.size()))
        << "input file " << path << ": truncated gzip data (it ends inside the compressed stream after "
        << out.size() << " decompressed bytes)";
    GLM3D_USAGE_CHECK(ret == Z_OK) << "input file " << path << ": corrupt gzip data at compressed byte "
                                   << used << " ("
                                   << (z.zs.msg ? z.zs.msg : "zlib error " + std::to_string(ret)) << ")";
  }
}

} // namespace glm3d
