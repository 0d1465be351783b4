#pragma once
// Builds the lasting record of an ended conversation from its last stored state (docs/storage.md,
// "Conversation records"). Pure and stateless: safe from any thread.

#include "chatdesk/gateway/desk_changes.hpp"

namespace chatdesk::gateway {

// `last` is the conversation's state at its end (its clock taken after the end's own violations).
ConversationRecord build_record(const StoredConversation& last, TimePoint ended, ClosedBy by);

}  // namespace chatdesk::gateway
