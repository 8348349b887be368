// Which replay thread a packet goes to. Threads replay at once, so packets
// whose order matters to the XDP program must go to the same one: both
// directions of a connection (its probe flow: SYN -> SYN/ACK -> RST), and an
// ICMP error with the packet it quotes. The key is the conversation: the
// unordered pair of (address, port) ends of TCP, UDP and SCTP, the quoted
// packet's for ICMP/ICMPv6 errors, the address pair for everything else
// (fragments after the first included). Nothing else is parsed here: the
// program still classifies every packet itself.
#pragma once

#include <cstdint>
#include <span>

namespace scanwatch {

// The same value for both directions of a conversation.
uint32_t conversation_hash(std::span<const uint8_t> frame);

}  // namespace scanwatch
