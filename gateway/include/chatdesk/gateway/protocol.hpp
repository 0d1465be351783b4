#pragma once
// Parsing of the frames clients send (docs/protocol.md) into typed commands. Pure and stateless:
// safe to call from any thread. A bad frame yields a ProtocolError naming what is wrong; nothing
// is thrown on this path.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace chatdesk::gateway {

enum class ErrorCode {
  bad_request,
  unknown_type,
  too_large,
  not_owner,
  target_unavailable,
  conversation_closed,
  rate_limited,
  replaced,
  unavailable,  // the desk cannot store right now (Redis away): nothing was done; send again
};
std::string_view to_string(ErrorCode code);

struct ProtocolError {
  ErrorCode code = ErrorCode::bad_request;
  std::string message;        // for people; never contains chat text
  std::string client_msg_id;  // echoed when the bad frame carried one
};

// --- customer → server ---
struct CustomerMessage {
  std::string text;
  std::string client_msg_id;
};
struct CustomerTyping {};
struct CustomerClose {};
using CustomerCommand = std::variant<CustomerMessage, CustomerTyping, CustomerClose>;

// --- agent → server ---
enum class AgentPresence { available, away };
struct AgentStatusCommand {
  AgentPresence state = AgentPresence::away;
};
struct AgentMessage {
  std::string conversation;
  std::string text;
  std::string client_msg_id;
};
struct AgentTyping {
  std::string conversation;
  bool start = true;
};
struct AgentTransfer {
  std::string conversation;
  std::optional<std::string> to;  // nullopt: back to the shop queue
  std::string note;
};
struct AgentClose {
  std::string conversation;
};
struct AgentHandover {
  std::optional<std::string> to;  // nullopt: back to the shop queue
  std::string note;
};
using AgentCommand = std::variant<AgentStatusCommand, AgentMessage, AgentTyping, AgentTransfer,
                                  AgentClose, AgentHandover>;

struct ParseLimits {
  std::size_t max_text_chars = 5000;  // code points of a message text or a note
  // The caller has already checked that the whole frame is valid UTF-8 (a WebSocket text
  // message: Beast refuses invalid ones with close code 1007), so the JSON parser does not check
  // it a second time (~2,000 instructions per frame, docs/benchmarks.md). Never set it for bytes
  // nobody checked: invalid UTF-8 would then pass into chat text. Escapes (\uXXXX) are always
  // checked.
  bool frame_is_valid_utf8 = false;
};

// Either the command or why it was refused.
template <class Command>
using ParseResult = std::variant<Command, ProtocolError>;

ParseResult<CustomerCommand> parse_customer_frame(std::string_view frame,
                                                  const ParseLimits& limits);
ParseResult<AgentCommand> parse_agent_frame(std::string_view frame, const ParseLimits& limits);

// Identifiers clients may choose (agent ids, client_msg_id): 1–64 of [A-Za-z0-9_.:-].
bool is_valid_client_id(std::string_view id);

}  // namespace chatdesk::gateway
