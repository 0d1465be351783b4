#include "chatdesk/gateway/node_bus.hpp"

namespace chatdesk::gateway {

namespace {

constexpr std::uint8_t bus_version = 1;
constexpr std::size_t header_size = 1 + 4 + 8;
// kind, session, code, how many texts
constexpr std::size_t entry_head_size = 1 + 8 + 1 + 1;

// Little-endian on the wire, whatever the host.
template <typename T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  for (std::size_t i = 0; i < sizeof(T); ++i)
    bytes[i] = static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff);
  out.append(bytes, sizeof(T));
}

template <typename T>
T get(std::string_view in, std::size_t at) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i)
    value |= std::uint64_t{static_cast<unsigned char>(in[at + i])} << (8 * i);
  return static_cast<T>(value);
}

// How many texts an entry of `kind` carries; -1 for a kind this build does not know.
int texts_of(std::uint8_t kind) {
  switch (static_cast<BusEntry>(kind)) {
    case BusEntry::customer_connected:
      return 3;
    case BusEntry::agent_connected:
      return 2;
    case BusEntry::frame:
    case BusEntry::send:
    case BusEntry::lead_connected:
      return 1;
    case BusEntry::disconnected:
    case BusEntry::close:
      return 0;
  }
  return -1;
}

}  // namespace

void BusBatchWriter::start(NodeId from, std::uint64_t seq) {
  buffer_.clear();
  entries_ = 0;
  put<std::uint8_t>(buffer_, bus_version);
  put<std::uint32_t>(buffer_, from);
  put<std::uint64_t>(buffer_, seq);
}

void BusBatchWriter::entry(BusEntry kind, SessionId session, std::uint8_t code,
                           std::initializer_list<std::string_view> texts) {
  put<std::uint8_t>(buffer_, static_cast<std::uint8_t>(kind));
  put<std::uint64_t>(buffer_, session);
  put<std::uint8_t>(buffer_, code);
  put<std::uint8_t>(buffer_, static_cast<std::uint8_t>(texts.size()));
  for (const auto text : texts) {
    put<std::uint32_t>(buffer_, static_cast<std::uint32_t>(text.size()));
    buffer_.append(text);
  }
  ++entries_;
}

void BusBatchWriter::customer_connected(SessionId session, std::string_view shop,
                                        std::string_view customer, std::string_view resume) {
  entry(BusEntry::customer_connected, session, 0, {shop, customer, resume});
}
void BusBatchWriter::agent_connected(SessionId session, std::string_view shop,
                                     std::string_view agent) {
  entry(BusEntry::agent_connected, session, 0, {shop, agent});
}
void BusBatchWriter::lead_connected(SessionId session, std::string_view shop) {
  entry(BusEntry::lead_connected, session, 0, {shop});
}
void BusBatchWriter::frame(SessionId session, std::string_view text) {
  entry(BusEntry::frame, session, 0, {text});
}
void BusBatchWriter::disconnected(SessionId session) {
  entry(BusEntry::disconnected, session, 0, {});
}
void BusBatchWriter::send(SessionId session, std::string_view frame) {
  entry(BusEntry::send, session, 0, {frame});
}
void BusBatchWriter::close(SessionId session, CloseReason reason) {
  entry(BusEntry::close, session, static_cast<std::uint8_t>(reason), {});
}

std::optional<std::string> BusBatchReader::open(std::string_view bytes) {
  bytes_ = {};
  at_ = 0;
  if (bytes.size() < header_size) return "batch shorter than its header";
  if (get<std::uint8_t>(bytes, 0) != bus_version)
    return "batch format " + std::to_string(get<std::uint8_t>(bytes, 0)) + " is not " +
           std::to_string(bus_version);
  // Walk every entry once before handing any out.
  std::size_t at = header_size;
  std::size_t index = 0;
  while (at < bytes.size()) {
    const auto where = " in entry " + std::to_string(index);
    if (bytes.size() - at < entry_head_size) return "truncated entry head" + where;
    const auto kind = get<std::uint8_t>(bytes, at);
    const int expected_texts = texts_of(kind);
    if (expected_texts < 0) return "unknown entry kind " + std::to_string(kind) + where;
    if (get<std::uint64_t>(bytes, at + 1) == 0) return "session 0" + where;
    const auto code = get<std::uint8_t>(bytes, at + 9);
    if (code > (kind == static_cast<std::uint8_t>(BusEntry::close)
                    ? static_cast<std::uint8_t>(CloseReason::moved)
                    : 0))
      return "bad code " + std::to_string(code) + where;
    const auto texts = get<std::uint8_t>(bytes, at + 10);
    if (texts != expected_texts) return "wrong number of texts" + where;
    at += entry_head_size;
    for (std::uint8_t t = 0; t < texts; ++t) {
      if (bytes.size() - at < 4) return "truncated text length" + where;
      const auto length = get<std::uint32_t>(bytes, at);
      at += 4;
      if (bytes.size() - at < length) return "truncated text" + where;
      at += length;
    }
    ++index;
  }
  bytes_ = bytes;
  at_ = header_size;
  header_.from = get<std::uint32_t>(bytes, 1);
  header_.seq = get<std::uint64_t>(bytes, 5);
  return std::nullopt;
}

bool BusBatchReader::next(BusMessage& out) {
  if (at_ >= bytes_.size()) return false;
  out.kind = static_cast<BusEntry>(get<std::uint8_t>(bytes_, at_));
  out.session = get<std::uint64_t>(bytes_, at_ + 1);
  out.code = get<std::uint8_t>(bytes_, at_ + 9);
  const auto texts = get<std::uint8_t>(bytes_, at_ + 10);
  at_ += entry_head_size;
  for (auto& text : out.text) text = {};
  for (std::uint8_t t = 0; t < texts; ++t) {
    const auto length = get<std::uint32_t>(bytes_, at_);
    out.text[t] = bytes_.substr(at_ + 4, length);
    at_ += 4 + length;
  }
  return true;
}

}  // namespace chatdesk::gateway
