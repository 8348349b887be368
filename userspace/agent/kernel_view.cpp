#include "agent/kernel_view.hpp"

#include "bpf/map_walk.hpp"
#include "bpf/stats.hpp"

namespace scanwatch {

uint64_t KernelView::stat(unsigned idx) const {
    try {
        return stat_total(stat_rows(), idx);
    } catch (const BpfError&) {
        return 0;
    }
}

namespace {

class LiveKernel final : public KernelView {
public:
    LiveKernel(const KernelOptions& o, const std::function<void(const std::string&)>& warn) : k_(o, warn) {}
    std::string xdp_mode() const override { return k_.xdp_mode(); }
    std::vector<std::string> attached() const override {
        std::vector<std::string> v;
        for (const auto& a : k_.attachments())
            v.push_back(a.iface + " (" + a.xdp_mode + " XDP)");
        return v;
    }
    std::vector<sw_stat_row> stat_rows() const override { return k_.stat_rows(); }
    std::vector<std::string> slot_names() const override { return k_.slot_names(); }
    std::optional<sw_source> source(const Addr& a) const override { return k_.source(a); }
    std::optional<sw_wide> wide(const Addr& a) const override { return k_.wide(a); }
    size_t for_each_source(const SourceVisitor& fn) const override { return k_.for_each_source(fn); }
    size_t flows() const override { return count_map_keys(k_.flows_fd(), sizeof(sw_flow_key)); }
    BlockMaps block_maps() const override {
        return {k_.blocks_fd(), k_.allow_fd(), k_.config_fd(), k_.shield_fd(), k_.budget_fd(), k_.block_addrs_fd(),
                k_.block_bits_fd()};
    }
    int ringbuf_fd() const override { return k_.ringbuf_fd(); }
    std::pair<size_t, bool> walk_sources(MapCursor& c, size_t max, const SourceVisitor& fn) const override {
        return walk_sources_in(k_.sources_fd(), c.token, c.started, max, fn);
    }

private:
    Kernel k_;
};

}  // namespace

std::unique_ptr<KernelView> attach_kernel(const KernelOptions& o, const std::function<void(const std::string&)>& warn) {
    return std::make_unique<LiveKernel>(o, warn);
}

}  // namespace scanwatch
