// The formats in proto/ against hand-built bytes laid out as proto/FORMAT.md says.
#include <aerolog/proto/crc32c.hpp>
#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/records.hpp>
#include <aerolog/proto/ring.hpp>
#include <aerolog/proto/segment.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

using namespace aerolog::proto;

namespace {
void put(std::vector<unsigned char>& b, std::size_t off, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[off + i] = static_cast<unsigned char>(v >> (8 * i));
}
}  // namespace

TEST_CASE("CRC32C matches the documented check value", "[format]") {
  const char* s = "123456789";
  CHECK(crc32c(s, 9) == 0xE3069283u);
  CHECK(crc32c("", 0) == 0u);
  // Running form over pieces equals one pass.
  std::uint32_t st = crc32c_update(crc32c_begin(), s, 4);
  st = crc32c_update(st, s + 4, 5);
  CHECK(crc32c_end(st) == 0xE3069283u);
  // 32 zero bytes (RFC 3720 B.4 test vector)
  std::vector<unsigned char> z(32, 0);
  CHECK(crc32c(z.data(), z.size()) == 0x8A9136AAu);
  std::vector<unsigned char> f(32, 0xFF);
  CHECK(crc32c(f.data(), f.size()) == 0x62A8AB43u);
}

TEST_CASE("a hand-built frame decodes as FORMAT.md says", "[format]") {
  std::vector<unsigned char> b(32, 0);
  put(b, 0, 24 + 5, 4);  // length: header + 5 payload bytes
  put(b, 4, 300, 2);     // type (user)
  put(b, 6, kFlagUserTimestamp, 2);
  put(b, 8, 42, 8);  // seq
  put(b, 16, 1'700'000'000'000'000'000ull, 8);
  std::memcpy(&b[24], "hello", 5);
  FrameHeader h;
  std::memcpy(&h, b.data(), sizeof h);
  CHECK(h.length == 29);
  CHECK(h.type == 300);
  CHECK(h.flags == kFlagUserTimestamp);
  CHECK(h.seq == 42);
  CHECK(h.timestamp == 1'700'000'000'000'000'000ull);
  CHECK(frame_stride(h.length) == 32);
  CHECK(frame_stride_for_payload(40) == 64);
  CHECK(frame_stride_for_payload(0) == 24);
}

TEST_CASE("ring header magic and fields sit at the documented offsets", "[format]") {
  std::vector<unsigned char> b(kRingHeaderSize, 0);
  std::memcpy(&b[0], "AEROLRNG", 8);
  put(b, 8, 1, 4);
  put(b, 12, 4096, 4);
  put(b, 16, 1 << 20, 8);
  std::memcpy(&b[64], "md-feed", 7);
  put(b, 128, 4096, 8);  // write_pos
  put(b, 136, 77, 8);    // last_seq
  put(b, 256, 1024, 8);  // read_pos
  put(b, 384, 70, 8);    // durable_seq
  put(b, 512, 3, 8);     // flush_request
  put(b, 640, 2, 8);     // flush_ack
  put(b, 652, 1, 4);     // state
  put(b, 768, 9, 8);     // blocks_written
  RingHeader h;
  std::memcpy(static_cast<void*>(&h), b.data(), sizeof h);
  CHECK(h.id.magic.load() == kRingMagic);
  CHECK(h.id.version.load() == kRingVersion);
  CHECK(h.id.header_size == kRingHeaderSize);
  CHECK(h.id.capacity == (1u << 20));
  CHECK(std::string(h.id.stream) == "md-feed");
  CHECK(h.producer.write_pos.load() == 4096);
  CHECK(h.producer.last_seq.load() == 77);
  CHECK(h.consumer.read_pos.load() == 1024);
  CHECK(h.durable.durable_seq.load() == 70);
  CHECK(h.flush.flush_request.load() == 3);
  CHECK(h.sidecar.flush_ack.load() == 2);
  CHECK(h.sidecar.state.load() == static_cast<std::uint32_t>(RingState::quarantined));
  CHECK(h.counters.blocks_written.load() == 9);
}

TEST_CASE("segment and block headers decode from hand-built bytes", "[format]") {
  std::vector<unsigned char> seg(kPage, 0);
  std::memcpy(&seg[0], "AEROLSEG", 8);
  put(seg, 8, kSegmentVersion, 4);
  put(seg, 12, kSegmentHeaderSize, 4);
  put(seg, 16, 1001, 8);
  put(seg, 24, 3, 8);
  put(seg, 32, 64 << 20, 8);
  std::memcpy(&seg[48], "orders", 6);
  put(seg, 124, crc32c(seg.data(), 124), 4);
  SegmentHeader sh;
  std::memcpy(&sh, seg.data(), sizeof sh);
  CHECK(sh.magic == kSegmentMagic);
  CHECK(sh.base_seq == 1001);
  CHECK(sh.generation == 3);
  CHECK(sh.segment_size == (64u << 20));
  CHECK(std::string(sh.stream) == "orders");
  CHECK(sh.crc == crc32c(&sh, offsetof(SegmentHeader, crc)));

  // One block with two frames; CRC over [8, length).
  std::vector<unsigned char> blk(kPage, 0);
  std::memcpy(&blk[0], "ALBK", 4);
  const std::uint32_t length = 64 + 32 + 24;
  put(blk, 8, length, 4);
  put(blk, 12, 2, 4);
  put(blk, 16, 1001, 8);
  put(blk, 24, 1002, 8);
  put(blk, 32, 3, 8);
  put(blk, 64, 29, 4);  // frame 1: 5-byte payload, stride 32
  put(blk, 72, 1001, 8);
  put(blk, 96, 24, 4);  // frame 2: empty payload
  put(blk, 104, 1002, 8);
  put(blk, 4, crc32c(&blk[8], length - 8), 4);
  BlockHeader bh;
  std::memcpy(&bh, blk.data(), sizeof bh);
  CHECK(bh.magic == kBlockMagic);
  CHECK(bh.length == length);
  CHECK(bh.count == 2);
  CHECK(bh.first_seq == 1001);
  CHECK(bh.last_seq == 1002);
  CHECK(bh.generation == 3);
  CHECK(bh.crc == crc32c(&blk[kBlockCrcOffset], bh.length - kBlockCrcOffset));
  blk[100] ^= 1;  // one flipped bit is caught
  CHECK(bh.crc != crc32c(&blk[kBlockCrcOffset], bh.length - kBlockCrcOffset));
}

TEST_CASE("standard records have the documented layout", "[format]") {
  std::vector<unsigned char> b(64, 0);
  std::memcpy(&b[0], "AAPL", 4);
  put(b, 16, 585'33000000ll, 8);  // price 585.33 in 1e-8 units
  put(b, 24, 100, 8);
  put(b, 32, 7, 8);
  put(b, 56, 1, 1);
  Trade t;
  std::memcpy(&t, b.data(), sizeof t);
  CHECK(std::string(t.symbol) == "AAPL");
  CHECK(t.price == 58533000000ll);
  CHECK(t.qty == 100);
  CHECK(t.trade_id == 7);
  CHECK(t.aggressor == Side::buy);
  CHECK(Trade::kType == 2);
  CHECK(Order::kType == 3);
  CHECK(Quote::kType == 4);
  CHECK(MarketData::kType == 5);
  CHECK(Risk::kType == 6);
  CHECK(TextHeader::kType == 1);
  CHECK(kFirstUserType == 256);
}

TEST_CASE("stream names are checked", "[format]") {
  auto ok = [](const char* s) { return valid_stream_name(s, std::strlen(s)); };
  CHECK(ok("md-feed"));
  CHECK(ok("A.b_c-9"));
  CHECK(ok(std::string(64, 'x').c_str()));
  CHECK_FALSE(ok(""));
  CHECK_FALSE(ok("."));
  CHECK_FALSE(ok(".."));
  CHECK_FALSE(ok("a/b"));
  CHECK_FALSE(ok("../etc"));
  CHECK_FALSE(ok("sp ace"));
  CHECK_FALSE(ok(std::string(65, 'x').c_str()));
}
