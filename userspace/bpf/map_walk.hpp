// The one walk over a BPF map's keys (bpf_map_get_next_key), for hash, LRU
// and LPM-trie maps alike. The walk keeps its own copy of the previous key,
// so the caller never juggles two buffers; `fn` must not delete keys (a
// deleted previous key restarts a hash map's walk): collect them with
// map_keys() and delete afterwards, or use clear_map().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace scanwatch {

// Calls fn with each key (key_size bytes); returns how many keys it saw.
size_t walk_map_keys(int fd, size_t key_size, const std::function<void(const void* key)>& fn);
// How many keys the map holds now (one syscall per key: not for hot paths).
size_t count_map_keys(int fd, size_t key_size);
// Deletes every key; false when a delete fails (the map is then not empty).
bool clear_map(int fd, size_t key_size);

// Every key, typed.
template <class Key>
std::vector<Key> map_keys(int fd) {
    std::vector<Key> out;
    walk_map_keys(fd, sizeof(Key), [&](const void* k) { out.push_back(*static_cast<const Key*>(k)); });
    return out;
}

// Every entry: fn(key, value) for each key whose value could still be read
// (an entry deleted between the key and its lookup is skipped). Returns how
// many entries fn saw.
size_t walk_map_entries(int fd, size_t key_size, size_t value_size,
                        const std::function<void(const void* key, const void* value)>& fn);

template <class Key, class Value>
std::vector<std::pair<Key, Value>> map_entries(int fd) {
    std::vector<std::pair<Key, Value>> out;
    walk_map_entries(fd, sizeof(Key), sizeof(Value), [&](const void* k, const void* v) {
        out.emplace_back(*static_cast<const Key*>(k), *static_cast<const Value*>(v));
    });
    return out;
}

}  // namespace scanwatch
