// SPDX-License-Identifier: MIT
// placeholder
#include "fp_test.h"
