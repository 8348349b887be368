#include "bpf/map_walk.hpp"

#include <bpf/bpf.h>

namespace scanwatch {

size_t walk_map_keys(int fd, size_t key_size, const std::function<void(const void* key)>& fn) {
    std::vector<uint8_t> prev(key_size), next(key_size);
    size_t n = 0;
    for (const void* p = nullptr; bpf_map_get_next_key(fd, p, next.data()) == 0; p = prev.data(), n++) {
        fn(next.data());
        prev.swap(next);
    }
    return n;
}

size_t count_map_keys(int fd, size_t key_size) {
    return walk_map_keys(fd, key_size, [](const void*) {});
}

bool clear_map(int fd, size_t key_size) {
    std::vector<uint8_t> k(key_size);
    while (bpf_map_get_next_key(fd, nullptr, k.data()) == 0)
        if (bpf_map_delete_elem(fd, k.data()) != 0)
            return false;
    return true;
}

size_t walk_map_entries(int fd, size_t key_size, size_t value_size,
                        const std::function<void(const void* key, const void* value)>& fn) {
    std::vector<uint8_t> v(value_size);
    size_t n = 0;
    walk_map_keys(fd, key_size, [&](const void* k) {
        if (bpf_map_lookup_elem(fd, k, v.data()) == 0) {
            fn(k, v.data());
            n++;
        }
    });
    return n;
}

}  // namespace scanwatch
