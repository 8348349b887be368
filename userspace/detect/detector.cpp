// placeholder until the detector lands
#include "scanwatch/detector.hpp"
