#include "data/h5_object_header.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <vector>

// Layouts: the HDF5 file format specification 3.0 (superblock, "Version 1 Data Object Header
// Prefix", "Version 2 Data Object Header Prefix", "The Attribute Message", "The Datatype
// Message", "The Dataspace Message"), as HDF5 1.10.8 decodes them (H5Fsuper_cache.c,
// H5Ocache.c, H5Oattr.c, H5Odtype.c, H5Osdspace.c).

namespace glm3d::h5 {

namespace {

constexpr uint16_t k_msg_continuation = 0x10, k_msg_attribute = 0x0C, k_msg_symbol_table = 0x11;
constexpr int k_max_chunks = 256;
constexpr uint64_t k_max_chunk_bytes = uint64_t(64) << 20; // real headers hold kilobytes

// Little-endian bytes of the file, read on demand; every read is bounded by the file.
struct RawFile {
  std::ifstream in;
  uint64_t size = 0;
  std::vector<uint8_t> read(uint64_t at, uint64_t n) {
    std::vector<uint8_t> b;
    if (at > size || n > size - at)
      return b;
    b.resize(size_t(n));
    in.seekg(std::streamoff(at));
    in.read(reinterpret_cast<char*>(b.data()), std::streamsize(n));
    if (!in)
      b.clear();
    return b;
  }
};

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i)
    v = v << 8 | p[i];
  return v;
}

struct Header {
  std::string where; // "FILE: object at address A"
  uint64_t base = 0; // the superblock's place: addresses count from it
  int offset_bytes = 8, length_bytes = 8;
  int version = 1;
  bool crt_order = false; // version 2: messages carry a creation index
};

// Checks one attribute message (the bytes of its data, p[0, n)).
void check_attribute(const Header& h, const uint8_t* p, uint64_t n, int index) {
  auto fail = [&](const std::string& why) {
    GLM3D_USAGE_FAIL() << h.where << ": attribute message " << index << " is damaged (" << why
                       << "); HDF5 1.10 would read past it";
  };
  if (n < 8)
    fail("shorter than its 8-byte header");
  const int version = p[0], flags = p[1];
  if (version < 1 || version > 3)
    fail("version " + std::to_string(version));
  if (version >= 2 && flags != 0)
    fail("shared datatype or dataspace, which glm3d never writes");
  const uint64_t name_len = le(p + 2, 2), dt_len = le(p + 4, 2), ds_len = le(p + 6, 2);
  auto padded = [&](uint64_t x) { return version == 1 ? (x + 7) / 8 * 8 : x; };
  const uint64_t name_at = version == 3 ? 9 : 8, dt_at = name_at + padded(name_len),
                 ds_at = dt_at + padded(dt_len), data_at = ds_at + padded(ds_len);
  if (data_at > n)
    fail("name, datatype and dataspace of " + std::to_string(data_at) + " bytes in a message of " +
         std::to_string(n));
  if (name_len == 0 || !std::memchr(p + name_at, 0, size_t(name_len)))
    fail("name not NUL-terminated within its length");
  // Datatype: class and version, 3 bytes of class bits, the element size, the properties.
  const uint8_t* dt = p + dt_at;
  const int cls = dt_len >= 8 ? dt[0] & 0x0F : -1;
  // Variable-length (9): h5py writes str attributes so; its properties are a base datatype (at
  // least an 8-byte header), its data references the global heap, which HDF5 reads and bounds.
  const uint64_t props = cls == 0 ? 4 : cls == 1 ? 12 : cls == 9 ? 8 : 0;
  if (cls != 0 && cls != 1 && cls != 3 && cls != 9)
    fail(cls < 0 ? "datatype shorter than 8 bytes"
                 : "datatype class " + std::to_string(cls) + " (glm3d reads integers, floats, strings)");
  if (dt_len < 8 + props)
    fail("datatype of class " + std::to_string(cls) + " in " + std::to_string(dt_len) + " bytes");
  const uint64_t elem = cls == 9 ? 0 : le(dt + 4, 4); // 0: no size check of the data below
  // Dataspace: version, rank, flags, then (version 1) 5 reserved bytes or (version 2) the type.
  const uint8_t* ds = p + ds_at;
  if (ds_len < 4 || ds[0] < 1 || ds[0] > 2 || ds[1] > 32)
    fail("dataspace header");
  const int rank = ds[1];
  const uint64_t head = ds[0] == 1 ? 8 : 4, dims_bytes = uint64_t(rank) * uint64_t(h.length_bytes);
  if (ds_len < head + dims_bytes * ((ds[2] & 1) ? 2 : 1))
    fail("dataspace of rank " + std::to_string(rank) + " in " + std::to_string(ds_len) + " bytes");
  uint64_t elems = ds[0] == 2 && ds[3] == 2 ? 0 : 1; // version 2 type 2: the null dataspace
  for (int d = 0; d < rank && elems; ++d) {
    const uint64_t dim = le(ds + head + uint64_t(d) * uint64_t(h.length_bytes), h.length_bytes);
    if (dim && elems > UINT64_MAX / dim)
      fail("dataspace element count overflows");
    elems *= dim;
  }
  if (elem && elems > (n - data_at) / elem)
    fail(std::to_string(elems) + " elements of " + std::to_string(elem) + " bytes in " +
         std::to_string(n - data_at) + " bytes of data");
}

// Walks the messages of one chunk (bytes m[0, n)); queues its continuation chunks and the
// local heaps of its symbol table (a group in the 1.6 format).
void walk_chunk(const Header& h, const uint8_t* m, uint64_t n,
                std::vector<std::pair<uint64_t, uint64_t>>& more, int& attributes,
                std::vector<uint64_t>& heaps) {
  const uint64_t head = h.version == 1 ? 8 : (h.crt_order ? 6 : 4);
  uint64_t at = 0;
  while (n - at >= head) { // (version 2: fewer bytes left are a gap)
    const uint8_t* msg = m + at;
    const uint16_t type = uint16_t(h.version == 1 ? le(msg, 2) : msg[0]);
    const uint64_t size = h.version == 1 ? le(msg + 2, 2) : le(msg + 1, 2);
    const int flags = h.version == 1 ? msg[4] : msg[3];
    GLM3D_USAGE_CHECK(size <= n - at - head) << h.where << ": a header message of " << size
                                             << " bytes runs past its chunk (the header is damaged)";
    const uint8_t* data = msg + head;
    if (type == k_msg_attribute) {
      GLM3D_USAGE_CHECK(!(flags & 0x02))
          << h.where << ": a shared attribute message (glm3d never writes one)";
      check_attribute(h, data, size, attributes++);
    } else if (type == k_msg_symbol_table) {
      GLM3D_USAGE_CHECK(size >= uint64_t(2 * h.offset_bytes))
          << h.where << ": a symbol table message of " << size << " bytes (the header is damaged)";
      heaps.push_back(le(data + h.offset_bytes, h.offset_bytes)); // after the B-tree's address
    } else if (type == k_msg_continuation) {
      GLM3D_USAGE_CHECK(size >= uint64_t(h.offset_bytes + h.length_bytes))
          << h.where << ": a continuation message of " << size << " bytes (the header is damaged)";
      more.emplace_back(le(data, h.offset_bytes), le(data + h.offset_bytes, h.length_bytes));
    }
    at += head + size;
  }
}

// A group's local heap (the names of its links): "HEAP", version 0, 3 reserved bytes, the data
// segment's size and free-list offset (lengths), its address. HDF5 1.10.8 allocates the segment
// at the size the file states before reading it, and reads into the buffer unchecked when that
// allocation fails (a NULL-pointer read in H5F__accum_read, found by tests/fuzz sample_file): the
// segment must lie inside the file.
void check_local_heap(RawFile& f, const Header& h, uint64_t heap) {
  const uint64_t n = 8 + 2 * uint64_t(h.length_bytes) + uint64_t(h.offset_bytes);
  const std::vector<uint8_t> b = f.read(h.base + heap, n);
  GLM3D_USAGE_CHECK(b.size() == n && std::memcmp(b.data(), "HEAP", 4) == 0)
      << h.where << ": its symbol table's local heap at " << heap << " is not one (the file is damaged)";
  const uint64_t size = le(b.data() + 8, h.length_bytes),
                 at = le(b.data() + 8 + 2 * h.length_bytes, h.offset_bytes);
  GLM3D_USAGE_CHECK(at <= f.size && size <= f.size - std::min(at, f.size) && h.base + at + size <= f.size)
      << h.where << ": its local heap declares " << size << " bytes at " << at << ", past the end of the "
      << f.size << "-byte file (the file is damaged)";
  // Its free list: blocks of (offset of the next, size) inside the segment, 1 ending the list.
  // HDF5 1.10.8 follows it without a bound: a cycle made it allocate list nodes without end
  // (24 GB in 2 minutes; found by tests/fuzz sample_file).
  const uint64_t L = uint64_t(h.length_bytes);
  std::set<uint64_t> seen;
  for (uint64_t off = le(b.data() + 8 + L, h.length_bytes); off != 1;) {
    GLM3D_USAGE_CHECK(off <= size && 2 * L <= size - off && seen.insert(off).second)
        << h.where << ": its local heap's free list "
        << (seen.count(off) ? "runs in a cycle" : "leaves the heap") << " at offset " << off
        << " (the file is damaged)";
    const std::vector<uint8_t> fb = f.read(h.base + at + off, 2 * L);
    GLM3D_USAGE_CHECK(fb.size() == 2 * L && le(fb.data() + L, h.length_bytes) <= size - off)
        << h.where << ": its local heap's free block at offset " << off
        << " leaves the heap (the file is damaged)";
    off = le(fb.data(), h.length_bytes);
  }
}

// The superblock: where it is (the base of all addresses) and the sizes of offsets and lengths.
void read_superblock(RawFile& f, Header& h) {
  static const uint8_t sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  for (uint64_t at = 0; at < f.size; at = at ? at * 2 : 512) { // where HDF5 looks for it
    const std::vector<uint8_t> b = f.read(at, 16);
    if (b.size() < 16 || std::memcmp(b.data(), sig, 8) != 0)
      continue;
    h.base = at;
    const bool v01 = b[8] < 2;
    h.offset_bytes = b[v01 ? 13 : 9];
    h.length_bytes = b[v01 ? 14 : 10];
    GLM3D_USAGE_CHECK((h.offset_bytes == 2 || h.offset_bytes == 4 || h.offset_bytes == 8) &&
                      (h.length_bytes == 2 || h.length_bytes == 4 || h.length_bytes == 8))
        << h.where << ": a superblock with " << h.offset_bytes << "-byte offsets and " << h.length_bytes
        << "-byte lengths (glm3d reads 2, 4 or 8)";
    return;
  }
  GLM3D_USAGE_FAIL() << h.where << ": no HDF5 superblock";
}

// Walks the object header at `rel` (an address from the file): its chunks, every message, the
// attribute messages and the local heaps of a symbol table. Returns the attribute messages.
int walk_header(RawFile& f, Header& h, uint64_t rel) {
  // The prefix: "OHDR" and version 2, or version 1 (HDF5 tells them so).
  const uint64_t addr = h.base + std::min(rel, f.size);
  std::vector<uint8_t> pre = f.read(addr, 16);
  GLM3D_USAGE_CHECK(pre.size() == 16) << h.where << " lies past the end of the file";
  std::vector<std::pair<uint64_t, uint64_t>> chunks; // (file offset, bytes) of the messages
  if (std::memcmp(pre.data(), "OHDR", 4) == 0) {
    h.version = 2;
    const int flags = pre[5];
    h.crt_order = flags & 0x04;
    const uint64_t size_at = 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
    const int size_bytes = 1 << (flags & 3);
    const std::vector<uint8_t> s = f.read(addr + size_at, uint64_t(size_bytes));
    GLM3D_USAGE_CHECK(s.size() == size_t(size_bytes)) << h.where << " lies past the end of the file";
    chunks.emplace_back(addr + size_at + uint64_t(size_bytes), le(s.data(), size_bytes));
  } else {
    GLM3D_USAGE_CHECK(pre[0] == 1) << h.where << " is not an object header (version " << int(pre[0]) << ")";
    chunks.emplace_back(addr + 16, le(pre.data() + 8, 4));
  }
  std::set<uint64_t> seen;
  std::vector<uint64_t> heaps;
  int attributes = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    auto [at, n] = chunks[i];
    GLM3D_USAGE_CHECK(i < k_max_chunks && seen.insert(at).second)
        << h.where << ": more than " << k_max_chunks
        << " chunks, or a chunk continued twice (the header is damaged)";
    if (i > 0)
      at += h.base;
    if (h.version == 2 && i > 0) { // "OCHK", the messages, a checksum
      GLM3D_USAGE_CHECK(n >= 8) << h.where << ": a continuation chunk of " << n << " bytes";
      at += 4, n -= 8;
    }
    // (HDF5 1.10.8 allocates a chunk at the size the file states before it reads it.)
    GLM3D_USAGE_CHECK(n <= k_max_chunk_bytes && n <= f.size)
        << h.where << ": a chunk of " << n << " bytes (the header is damaged)";
    const std::vector<uint8_t> m = f.read(at, n);
    GLM3D_USAGE_CHECK(m.size() == n) << h.where << ": a chunk of " << n << " bytes at " << at
                                     << " runs past the end of the file";
    walk_chunk(h, m.data(), n, chunks, attributes, heaps);
  }
  for (const uint64_t heap : heaps)
    check_local_heap(f, h, heap);
  return attributes;
}

bool open_raw(RawFile& f, const std::string& path) {
  f.in.open(path, std::ios::binary);
  if (!f.in)
    return false;
  f.in.seekg(0, std::ios::end);
  f.size = uint64_t(f.in.tellg());
  return true;
}

} // namespace

int check_object_header(hid_t obj) {
  H5O_info_t info{};
  std::string path;
  try {
    // Only files opened read-only come from outside; glm3d's own open files may hold headers not
    // yet on disk (HDF5's metadata cache).
    Handle file(H5_CHECK(H5Iget_file_id(obj)), H5Fclose);
    unsigned intent = 0;
    H5_CHECK(H5Fget_intent(file.get(), &intent));
    if (intent & H5F_ACC_RDWR)
      return -1;
    const ssize_t name_len = H5_CHECK(H5Fget_name(obj, nullptr, 0));
    path.assign(size_t(name_len) + 1, '\0');
    H5_CHECK(H5Fget_name(obj, path.data(), path.size()));
    path.resize(size_t(name_len));
    H5_CHECK(H5Oget_info2(obj, &info, H5O_INFO_BASIC));
  } catch (const Error& e) { // HDF5 cannot load the header at all (damage it reports itself)
    GLM3D_USAGE_FAIL() << (path.empty() ? "an HDF5 file" : path)
                       << ": an object header HDF5 cannot read: " << e.what();
  }
  Header h;
  h.where = path + ": HDF5 object header at address " + std::to_string(info.addr);
  RawFile f;
  GLM3D_USAGE_CHECK(open_raw(f, path)) << path << ": cannot be read";
  read_superblock(f, h);
  return walk_header(f, h, info.addr);
}

void check_root_before_open(const std::string& path) {
  RawFile f;
  if (!open_raw(f, path))
    return; // H5Fopen reports it
  Header h;
  h.where = path + ": HDF5 root group";
  try {
    read_superblock(f, h);
  } catch (const UsageError&) {
    return; // not HDF5 at all: H5Fopen says so
  }
  // The root group's object header address: in the superblock (version 2, 3) or in its root
  // symbol table entry (version 0, 1: after 4 addresses; version 1 has 4 more bytes before them).
  const std::vector<uint8_t> sb = f.read(h.base, 128);
  const int O = h.offset_bytes, version = sb.size() > 8 ? sb[8] : -1;
  const uint64_t at = version >= 2 ? 12 + 3 * uint64_t(O) : (version == 1 ? 28 : 24) + 5 * uint64_t(O);
  GLM3D_USAGE_CHECK(version >= 0 && version <= 3 && at + O <= sb.size())
      << h.where << ": superblock version " << version << " (the file is damaged)";
  // H5Fopen loads the root group's header, every chunk at the size the file states.
  (void)walk_header(f, h, le(sb.data() + at, O));
}

Handle open_untrusted(const std::string& path) {
  check_root_before_open(path);
  Handle f(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
  check_object_header(f.get());
  return f;
}

} // namespace glm3d::h5
