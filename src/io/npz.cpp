// NumPy .npz files: a zip archive whose members are .npy files named "<key>.npy".
// np.savez stores them, np.savez_compressed deflates them. We read both (raw deflate through
// zlib) and write stored members. Only what these archives use of the zip format is handled:
// one disk, no encryption, methods 0 (stored) and 8 (deflate), and zip64 fields where a size,
// offset or count does not fit 32 (16) bits. Layout (PKWARE APPNOTE.TXT):
//
//   [local header 30 B + name + extra][data] ... [central directory entries 46 B + name + ...]
//   [zip64 end record 56 B][zip64 locator 20 B]   (only when needed)
//   [end of central directory 22 B + comment]
//
// The central directory is the authority for sizes and offsets (the local header's sizes may
// be zero when a data descriptor follows the data). Every offset read from the file is checked
// against the file size before use.
#include "io/npy.h"
#include "core/memory_budget.h"
#include "io/atomic_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

namespace ocs {
namespace {

constexpr uint32_t kLocalHeaderSig = 0x04034b50;
constexpr uint32_t kCentralHeaderSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr size_t kLocalHeaderSize = 30;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint32_t kMax32 = 0xFFFFFFFFu;
constexpr uint16_t kMax16 = 0xFFFFu;

// Bounds-checked little-endian reads from the whole archive held in memory.
class ZipBytes {
 public:
  ZipBytes(const std::string& bytes, const std::string& origin) : bytes_(bytes), origin_(origin) {}

  size_t size() const { return bytes_.size(); }
  void require(uint64_t offset, uint64_t count, const char* what) const {
    if (offset > bytes_.size() || count > bytes_.size() - offset)
      user_error("{}: corrupt .npz (zip) file: {} at byte {} runs past the end of the file ({} "
                 "bytes)",
                 origin_, what, offset, bytes_.size());
  }
  uint64_t le(uint64_t offset, int width) const {
    require(offset, static_cast<uint64_t>(width), "a field");
    uint64_t value = 0;
    for (int i = width - 1; i >= 0; --i)
      value = (value << 8) | static_cast<unsigned char>(bytes_[offset + i]);
    return value;
  }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(le(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(le(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return le(offset, 8); }
  const char* at(uint64_t offset) const { return bytes_.data() + offset; }

 private:
  const std::string& bytes_;
  const std::string& origin_;
};

struct Member {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

struct Directory {
  uint64_t entries = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
};

Directory find_central_directory(const ZipBytes& zip, const std::string& origin) {
  if (zip.size() < kEndSize)
    user_error("{}: not a .npz file: {} bytes is too short for a zip archive", origin, zip.size());
  // The end record is the last 22 bytes unless an archive comment (at most 65535 bytes)
  // follows it, so search backwards over that window.
  const uint64_t lowest = zip.size() >= kEndSize + 0xFFFF ? zip.size() - kEndSize - 0xFFFF : 0;
  uint64_t end = zip.size() - kEndSize;
  while (true) {
    if (zip.u32(end) == kEndSig && end + kEndSize + zip.u16(end + 20) == zip.size()) break;
    if (end == lowest)
      user_error("{}: not a .npz file: no zip end-of-central-directory record found", origin);
    --end;
  }
  if (zip.u16(end + 4) != 0 || zip.u16(end + 6) != 0)
    user_error("{}: multi-disk zip archives are not supported", origin);
  Directory dir;
  dir.entries = zip.u16(end + 10);
  dir.size = zip.u32(end + 12);
  dir.offset = zip.u32(end + 16);
  const bool needs_zip64 = dir.entries == kMax16 || dir.size == kMax32 || dir.offset == kMax32;
  if (end >= kZip64LocatorSize && zip.u32(end - kZip64LocatorSize) == kZip64LocatorSig) {
    const uint64_t record = zip.u64(end - kZip64LocatorSize + 8);
    zip.require(record, kZip64EndSize, "the zip64 end record");
    if (zip.u32(record) != kZip64EndSig)
      user_error("{}: corrupt .npz (zip) file: the zip64 locator points to byte {}, which is "
                 "not a zip64 end record",
                 origin, record);
    dir.entries = zip.u64(record + 32);
    dir.size = zip.u64(record + 40);
    dir.offset = zip.u64(record + 48);
  } else if (needs_zip64) {
    user_error("{}: corrupt .npz (zip) file: sizes need zip64 but there is no zip64 locator",
               origin);
  }
  zip.require(dir.offset, dir.size, "the central directory");
  return dir;
}

// Replaces the 0xFFFFFFFF placeholders of `member` with the values of its zip64 extra field.
void apply_zip64_extra(const ZipBytes& zip, uint64_t extra, uint64_t extra_len, Member& member,
                       const std::string& origin) {
  const bool need_uncompressed = member.uncompressed_size == kMax32;
  const bool need_compressed = member.compressed_size == kMax32;
  const bool need_offset = member.local_header_offset == kMax32;
  if (!need_uncompressed && !need_compressed && !need_offset) return;
  uint64_t pos = extra;
  const uint64_t end = extra + extra_len;
  while (pos + 4 <= end) {
    const uint16_t id = zip.u16(pos);
    const uint16_t len = zip.u16(pos + 2);
    const uint64_t data = pos + 4;
    if (data + len > end) break;
    if (id == kZip64ExtraId) {
      // The fields appear in this fixed order, each only when its 32-bit slot is saturated.
      uint64_t field = data;
      auto take = [&](uint64_t& slot) {
        if (field + 8 > data + len)
          user_error("{}: corrupt .npz (zip) file: zip64 field of member '{}' is too short",
                     origin, member.name);
        slot = zip.u64(field);
        field += 8;
      };
      if (need_uncompressed) take(member.uncompressed_size);
      if (need_compressed) take(member.compressed_size);
      if (need_offset) take(member.local_header_offset);
      return;
    }
    pos = data + len;
  }
  user_error("{}: corrupt .npz (zip) file: member '{}' has 32-bit sizes 0xFFFFFFFF but no zip64 "
             "field",
             origin, member.name);
}

std::vector<Member> read_central_directory(const ZipBytes& zip, const Directory& dir,
                                           const std::string& origin) {
  std::vector<Member> members;
  uint64_t pos = dir.offset;
  const uint64_t end = dir.offset + dir.size;
  // Each entry takes at least 46 bytes, which bounds the count before any reservation.
  if (dir.entries > dir.size / kCentralHeaderSize)
    user_error("{}: corrupt .npz (zip) file: {} entries cannot fit a {}-byte central directory",
               origin, dir.entries, dir.size);
  for (uint64_t i = 0; i < dir.entries; ++i) {
    if (pos + kCentralHeaderSize > end || zip.u32(pos) != kCentralHeaderSig)
      user_error("{}: corrupt .npz (zip) file: central directory entry {} is missing", origin, i);
    Member member;
    member.flags = zip.u16(pos + 8);
    member.method = zip.u16(pos + 10);
    member.crc = zip.u32(pos + 16);
    member.compressed_size = zip.u32(pos + 20);
    member.uncompressed_size = zip.u32(pos + 24);
    const uint16_t name_len = zip.u16(pos + 28);
    const uint16_t extra_len = zip.u16(pos + 30);
    const uint16_t comment_len = zip.u16(pos + 32);
    member.local_header_offset = zip.u32(pos + 42);
    const uint64_t entry_size = kCentralHeaderSize + name_len + extra_len + comment_len;
    if (pos + entry_size > end)
      user_error("{}: corrupt .npz (zip) file: central directory entry {} runs past the "
                 "directory",
                 origin, i);
    member.name.assign(zip.at(pos + kCentralHeaderSize), name_len);
    apply_zip64_extra(zip, pos + kCentralHeaderSize + name_len, extra_len, member, origin);
    members.push_back(std::move(member));
    pos += entry_size;
  }
  return members;
}

std::string inflate_member(const char* data, const Member& member, const std::string& origin) {
  z_stream stream{};
  // Negative window bits: a raw deflate stream, without zlib or gzip framing.
  if (inflateInit2(&stream, -15) != Z_OK)
    user_error("{}: zlib could not start inflating member '{}'", origin, member.name);
  struct Ender {
    z_stream* s;
    ~Ender() { inflateEnd(s); }
  } ender{&stream};

  // Grow the output as data really comes out instead of trusting the declared size: a lying
  // header then costs at most twice what the stream truly holds. One byte past the declared
  // size is allowed so that a stream that is too long is noticed.
  constexpr uint64_t kChunk = 1u << 30;  // zlib counts in 32-bit uInt
  const uint64_t limit = member.uncompressed_size + 1;
  std::string out;
  uint64_t fed = 0;
  while (true) {
    if (stream.avail_out == 0) {
      const uint64_t used = out.size();
      if (used >= limit)
        user_error("{}: member '{}' inflates to more than its declared {} bytes", origin,
                   member.name, member.uncompressed_size);
      const uint64_t grow =
          std::min({limit - used, std::max<uint64_t>(used, 1u << 16), kChunk});
      // Deflate expands up to a thousandfold: what really comes out counts against the budget.
      check_allocation(used + grow, fmt::format("{}: member '{}', inflating,", origin, member.name));
      out.resize(used + grow);
      stream.next_out = reinterpret_cast<Bytef*>(out.data() + used);
      stream.avail_out = static_cast<uInt>(grow);
    }
    if (stream.avail_in == 0 && fed < member.compressed_size) {
      const uint64_t take = std::min(member.compressed_size - fed, kChunk);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data + fed));
      stream.avail_in = static_cast<uInt>(take);
      fed += take;
    }
    const int rc = inflate(&stream, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && stream.avail_out != 0)
      user_error("{}: member '{}' is truncated (its deflate stream ends early)", origin,
                 member.name);
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      user_error("{}: member '{}' is corrupt: {}", origin, member.name,
                 stream.msg ? stream.msg : "inflate failed");
  }
  const uint64_t produced = out.size() - stream.avail_out;
  out.resize(produced);
  if (produced != member.uncompressed_size)
    user_error("{}: member '{}' inflates to {} bytes, the archive declares {}", origin,
               member.name, produced, member.uncompressed_size);
  return out;
}

uint32_t crc_of(const char* data, uint64_t size) {
  return static_cast<uint32_t>(
      crc32_z(crc32_z(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(data), size));
}

std::string extract_member(const ZipBytes& zip, const Member& member, const std::string& origin) {
  if (member.flags & 1)
    user_error("{}: member '{}' is encrypted, which is not supported", origin, member.name);
  const uint64_t local = member.local_header_offset;
  zip.require(local, kLocalHeaderSize, "a local file header");
  if (zip.u32(local) != kLocalHeaderSig)
    user_error("{}: corrupt .npz (zip) file: member '{}' has no local header at byte {}", origin,
               member.name, local);
  const uint64_t data_offset =
      local + kLocalHeaderSize + zip.u16(local + 26) + zip.u16(local + 28);
  zip.require(data_offset, member.compressed_size, "member data");
  const char* data = zip.at(data_offset);
  std::string content;
  if (member.method == 0) {
    if (member.compressed_size != member.uncompressed_size)
      user_error("{}: corrupt .npz (zip) file: stored member '{}' has sizes {} and {}", origin,
                 member.name, member.compressed_size, member.uncompressed_size);
    content.assign(data, member.compressed_size);
  } else if (member.method == 8) {
    content = inflate_member(data, member, origin);
  } else {
    user_error("{}: member '{}' uses zip compression method {}; only stored (0) and deflate (8) "
               "are supported",
               origin, member.name, member.method);
  }
  if (crc_of(content.data(), content.size()) != member.crc)
    user_error("{}: member '{}' fails its CRC-32 check (the file is corrupt)", origin,
               member.name);
  return content;
}

// ---- writing ------------------------------------------------------------------------------

void put(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
}

struct WrittenMember {
  std::string name;
  uint32_t crc = 0;
  uint64_t size = 0;
  uint64_t offset = 0;
};

// Fixed timestamp 1980-01-01 00:00 (the zip epoch) so that equal tensors give equal files.
constexpr uint16_t kDosTime = 0;
constexpr uint16_t kDosDate = (1 << 5) | 1;

uint16_t name_flags(const std::string& name) {
  // Bit 11: the name is UTF-8 (set when it is not plain ASCII).
  for (char c : name)
    if (static_cast<unsigned char>(c) >= 128) return 1 << 11;
  return 0;
}

}  // namespace

std::map<std::string, Tensor> read_npz(const std::filesystem::path& path) {
  const std::string origin = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("{}: cannot open the .npz file for reading: {}", origin, std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) user_error("{}: read error: {}", origin, std::strerror(errno));
  const std::string bytes = buffer.str();
  const ZipBytes zip(bytes, origin);

  const Directory dir = find_central_directory(zip, origin);
  std::map<std::string, Tensor> tensors;
  for (const Member& member : read_central_directory(zip, dir, origin)) {
    if (!member.name.empty() && member.name.back() == '/') continue;  // a folder entry
    constexpr std::string_view kSuffix = ".npy";
    if (member.name.size() < kSuffix.size() ||
        member.name.compare(member.name.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0)
      user_error("{}: member '{}' is not a .npy file (every member of a .npz must end in .npy)",
                 origin, member.name);
    const std::string key = member.name.substr(0, member.name.size() - kSuffix.size());
    const std::string content = extract_member(zip, member, origin);
    Tensor tensor = parse_npy(content, origin + ":" + member.name);
    if (!tensors.emplace(key, std::move(tensor)).second)
      user_error("{}: member '{}' appears twice", origin, member.name);
  }
  return tensors;
}

namespace {
void write_zip(std::ofstream& out, const std::string& origin,
               const std::map<std::string, Tensor>& tensors);
}  // namespace

void write_npz(const std::filesystem::path& path, const std::map<std::string, Tensor>& tensors) {
  const std::string origin = path.string();
  write_file_atomically(path, [&](std::ofstream& out) { write_zip(out, origin, tensors); });
}

namespace {

// The zip itself: stored .npy members, then the central directory (zip64 records when needed).
void write_zip(std::ofstream& out, const std::string& origin,
               const std::map<std::string, Tensor>& tensors) {
  uint64_t offset = 0;
  auto emit = [&](const std::string& bytes) {
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    offset += bytes.size();
  };

  std::vector<WrittenMember> written;
  for (const auto& [key, tensor] : tensors) {
    WrittenMember member;
    member.name = key + ".npy";
    if (member.name.size() > kMax16)
      user_error("{}: tensor name of {} bytes is too long for a zip member", origin, key.size());
    const std::string data = serialize_npy(tensor);
    member.crc = crc_of(data.data(), data.size());
    member.size = data.size();
    member.offset = offset;
    const bool zip64 = member.size >= kMax32;
    std::string header;
    put(header, kLocalHeaderSig, 4);
    put(header, zip64 ? 45 : 20, 2);  // version needed: 4.5 for zip64, else 2.0
    put(header, name_flags(member.name), 2);
    put(header, 0, 2);  // stored
    put(header, kDosTime, 2);
    put(header, kDosDate, 2);
    put(header, member.crc, 4);
    put(header, zip64 ? kMax32 : member.size, 4);
    put(header, zip64 ? kMax32 : member.size, 4);
    put(header, member.name.size(), 2);
    put(header, zip64 ? 20 : 0, 2);
    header += member.name;
    if (zip64) {
      put(header, kZip64ExtraId, 2);
      put(header, 16, 2);
      put(header, member.size, 8);
      put(header, member.size, 8);
    }
    emit(header);
    emit(data);
    written.push_back(std::move(member));
  }

  const uint64_t directory_offset = offset;
  for (const WrittenMember& member : written) {
    std::string extra;
    if (member.size >= kMax32) {
      put(extra, member.size, 8);
      put(extra, member.size, 8);
    }
    if (member.offset >= kMax32) put(extra, member.offset, 8);
    if (!extra.empty()) {
      std::string field;
      put(field, kZip64ExtraId, 2);
      put(field, extra.size(), 2);
      extra = field + extra;
    }
    const bool zip64 = !extra.empty();
    std::string entry;
    put(entry, kCentralHeaderSig, 4);
    put(entry, zip64 ? 45 : 20, 2);  // version made by (MS-DOS attributes)
    put(entry, zip64 ? 45 : 20, 2);  // version needed
    put(entry, name_flags(member.name), 2);
    put(entry, 0, 2);
    put(entry, kDosTime, 2);
    put(entry, kDosDate, 2);
    put(entry, member.crc, 4);
    put(entry, member.size >= kMax32 ? kMax32 : member.size, 4);
    put(entry, member.size >= kMax32 ? kMax32 : member.size, 4);
    put(entry, member.name.size(), 2);
    put(entry, extra.size(), 2);
    put(entry, 0, 2);  // comment length
    put(entry, 0, 2);  // disk
    put(entry, 0, 2);  // internal attributes
    put(entry, 0, 4);  // external attributes
    put(entry, member.offset >= kMax32 ? kMax32 : member.offset, 4);
    entry += member.name;
    entry += extra;
    emit(entry);
  }
  const uint64_t directory_size = offset - directory_offset;
  const uint64_t entries = written.size();

  const bool zip64_end =
      entries >= kMax16 || directory_size >= kMax32 || directory_offset >= kMax32;
  if (zip64_end) {
    const uint64_t record_offset = offset;
    std::string record;
    put(record, kZip64EndSig, 4);
    put(record, kZip64EndSize - 12, 8);  // size of the rest of the record
    put(record, 45, 2);
    put(record, 45, 2);
    put(record, 0, 4);
    put(record, 0, 4);
    put(record, entries, 8);
    put(record, entries, 8);
    put(record, directory_size, 8);
    put(record, directory_offset, 8);
    put(record, kZip64LocatorSig, 4);
    put(record, 0, 4);
    put(record, record_offset, 8);
    put(record, 1, 4);
    emit(record);
  }
  std::string end;
  put(end, kEndSig, 4);
  put(end, 0, 2);
  put(end, 0, 2);
  put(end, std::min<uint64_t>(entries, kMax16), 2);
  put(end, std::min<uint64_t>(entries, kMax16), 2);
  put(end, std::min<uint64_t>(directory_size, kMax32), 4);
  put(end, std::min<uint64_t>(directory_offset, kMax32), 4);
  put(end, 0, 2);
  emit(end);
}

}  // namespace
}  // namespace ocs
