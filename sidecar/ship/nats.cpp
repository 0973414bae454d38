#include "nats.hpp"

#include <aerolog/proto/frame.hpp>
#include <aerolog/proto/ship.hpp>

#include <nats/nats.h>

#include <algorithm>
#include <cstring>

namespace aerolog::ship {

using namespace proto;

namespace {

std::string status_text(natsStatus s, jsErrCode e = static_cast<jsErrCode>(0)) {
  std::string t = natsStatus_GetText(s);
  const char* last = nats_GetLastError(nullptr);
  if (last && *last && t.find(last) == std::string::npos) t += std::string(": ") + last;
  if (e) t += " (JetStream error " + std::to_string(e) + ")";
  return t;
}

void ack_handler(jsCtx*, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
  const char* id = nullptr;
  natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
  std::string error;
  if (!pa) error = pae ? (pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err)) : "no acknowledgement";
  static_cast<NatsSink*>(closure)->on_ack(id, pa != nullptr, error);
  natsMsg_Destroy(msg);
}

}  // namespace

std::string nats_subject_token(std::string s) {
  for (char& c : s)
    if (c == '.' || c == '*' || c == '>' || c == ' ' || c == '\t') c = '_';
  return s;
}

std::string nats_stream_token(std::string stream) {
  std::replace(stream.begin(), stream.end(), '.', '~');
  return stream;
}

NatsSink::NatsSink(const Options& o) : o_(o), max_bytes_(o.nats_batch_bytes), max_message_bytes_(o.nats_batch_bytes) {}

NatsSink::~NatsSink() { disconnect(); }

void NatsSink::disconnect() {
  if (js_) jsCtx_Destroy(js_);
  if (nc_) natsConnection_Destroy(nc_);
  js_ = nullptr;
  nc_ = nullptr;
  std::lock_guard lock(mu_);
  pending_.clear();
}

void NatsSink::connect() {
  disconnect();
  natsOptions* opts = nullptr;
  natsStatus s = natsOptions_Create(&opts);
  if (s == NATS_OK) s = natsOptions_SetURL(opts, o_.nats_url.c_str());
  if (s == NATS_OK) s = natsOptions_SetAllowReconnect(opts, false);
  if (s == NATS_OK) s = natsOptions_SetTimeout(opts, 2000);
  if (s == NATS_OK) s = natsConnection_Connect(&nc_, opts);
  natsOptions_Destroy(opts);
  if (s != NATS_OK) throw SinkError("nats " + o_.nats_url + ": " + status_text(s));
  // A message must fit the server's max_payload with room for the headers.
  const auto max_payload = static_cast<std::uint64_t>(std::max<int64_t>(natsConnection_GetMaxPayload(nc_), 2048));
  max_message_bytes_ = max_payload - 1024;
  max_bytes_ = std::min<std::uint64_t>(o_.nats_batch_bytes, max_message_bytes_);
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = static_cast<int64_t>(o_.nats_ack_timeout_ms);
  jo.PublishAsync.MaxPending = o_.nats_in_flight;
  jo.PublishAsync.AckHandler = ack_handler;
  jo.PublishAsync.AckHandlerClosure = this;
  if ((s = natsConnection_JetStream(&js_, nc_, &jo)) != NATS_OK) throw SinkError("nats: JetStream: " + status_text(s));
  jsStreamInfo* si = nullptr;
  jsErrCode e = static_cast<jsErrCode>(0);
  s = js_GetStreamInfo(&si, js_, o_.nats_stream.c_str(), nullptr, &e);
  if (s == NATS_NOT_FOUND) {
    const std::string all = o_.nats_subject + ".>";
    const char* subjects[] = {all.c_str()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = o_.nats_stream.c_str();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = static_cast<int64_t>(o_.nats_duplicate_window_s) * 1'000'000'000;
    s = js_AddStream(&si, js_, &cfg, nullptr, &e);
  }
  if (si) jsStreamInfo_Destroy(si);
  if (s != NATS_OK) throw SinkError("nats: JetStream stream " + o_.nats_stream + ": " + status_text(s, e));
}

void NatsSink::add_stream(std::uint32_t id, const std::string& stream) {
  if (subjects_.size() <= id) {
    subjects_.resize(id + 1);
    ids_.resize(id + 1);
  }
  subjects_[id] = o_.nats_subject + "." + nats_subject_token(o_.host) + "." + nats_stream_token(stream);
  ids_[id] = o_.host + "/" + stream + "/";
}

// The last message on the stream's subject says how far the server got: every batch before it
// was sent on the same connection ahead of it, and re-sends go in order too.
std::uint64_t NatsSink::resume_after(std::uint32_t id, std::uint64_t checkpoint) {
  natsMsg* m = nullptr;
  jsErrCode e = static_cast<jsErrCode>(0);
  natsStatus s = js_GetLastMsg(&m, js_, o_.nats_stream.c_str(), subjects_[id].c_str(), nullptr, &e);
  if (s == NATS_NOT_FOUND) return checkpoint;
  if (s != NATS_OK) throw SinkError("nats: last message on " + subjects_[id] + ": " + status_text(s, e));
  BatchHeader h{};
  const bool ok = natsMsg_GetDataLength(m) >= static_cast<int>(sizeof h);
  if (ok) std::memcpy(&h, natsMsg_GetData(m), sizeof h);
  natsMsg_Destroy(m);
  if (!ok || h.magic != kBatchMagic)
    throw SinkError("nats: the last message on " + subjects_[id] + " is not an AeroLog batch");
  return h.last_seq;
}

void NatsSink::begin(Batch& b) { b.body.assign(kBatchHeaderSize, '\0'); }

void NatsSink::append(Batch& b, const Record& r) {
  FrameHeader f{static_cast<std::uint32_t>(kFrameHeaderSize + r.payload.size()), r.type, r.flags, r.seq, r.timestamp};
  b.body.append(reinterpret_cast<const char*>(&f), sizeof f);
  b.body.append(reinterpret_cast<const char*>(r.payload.data()), r.payload.size());
  b.body.resize(align_up(b.body.size(), kFrameAlign), '\0');
}

void NatsSink::finish(Batch& b) {
  BatchHeader h{kBatchMagic, kBatchVersion, 0, b.count, 0, b.first, b.last};
  std::memcpy(b.body.data(), &h, sizeof h);
}

bool NatsSink::can_send() const {
  std::lock_guard lock(mu_);
  return pending_.size() < o_.nats_in_flight;
}

std::size_t NatsSink::in_flight() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

void NatsSink::send(Batch&& b) {
  if (!nc_ || natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED) throw SinkError("nats: connection lost");
  const std::string id = ids_[b.stream] + std::to_string(b.first);
  natsMsg* m = nullptr;
  natsStatus s =
      natsMsg_Create(&m, subjects_[b.stream].c_str(), nullptr, b.body.data(), static_cast<int>(b.body.size()));
  if (s == NATS_OK) s = natsMsgHeader_Set(m, "Nats-Msg-Id", id.c_str());
  if (s != NATS_OK) {
    natsMsg_Destroy(m);
    throw SinkError("nats: message: " + status_text(s));
  }
  b.body = {};
  {
    std::lock_guard lock(mu_);
    pending_.push_back({std::move(b), id, Pending::Ack::waiting, {}});
  }
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = static_cast<int64_t>(o_.nats_ack_timeout_ms);
  s = js_PublishMsgAsync(js_, &m, &po);
  if (s != NATS_OK) {
    natsMsg_Destroy(m);
    throw SinkError("nats: publish: " + status_text(s));
  }
}

void NatsSink::on_ack(const char* msg_id, bool ok, const std::string& error) {
  std::lock_guard lock(mu_);
  for (Pending& p : pending_)
    if (msg_id && p.id == msg_id && p.ack == Pending::Ack::waiting) {
      p.ack = ok ? Pending::Ack::acked : Pending::Ack::failed;
      p.error = error;
      return;
    }
}

void NatsSink::collect(std::vector<Batch>& acked) {
  std::lock_guard lock(mu_);
  while (!pending_.empty() && pending_.front().ack == Pending::Ack::acked) {
    acked.push_back(std::move(pending_.front().batch));
    pending_.pop_front();
  }
  for (const Pending& p : pending_)
    if (p.ack == Pending::Ack::failed) throw SinkError("nats: publish of " + p.id + " failed: " + p.error);
  if (!pending_.empty() && (!nc_ || natsConnection_Status(nc_) != NATS_CONN_STATUS_CONNECTED))
    throw SinkError("nats: connection lost");
}

}  // namespace aerolog::ship
