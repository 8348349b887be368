// `scanwatch run`: the options are parsed (main.cpp, config/); the agent
// (agent/agent.hpp) does the rest.
#include "agent/agent.hpp"
#include "cli/commands.hpp"

namespace scanwatch {

int run_command(const RunOptions& o, const std::function<RunOptions()>& reload) {
    Agent agent(o, reload);
    return agent.run();
}

}  // namespace scanwatch
