// SPDX-License-Identifier: MIT
// The umbrella header: every public header of libframepipe, for programs that use the library (C11 or C++).
#ifndef FRAMEPIPE_FRAMEPIPE_H
#define FRAMEPIPE_FRAMEPIPE_H

/*
 * `#include <framepipe/framepipe.h>` and link with
 * `pkg-config --cflags --libs framepipe` (add --static: the library is
 * static). The headers below are in layer order (docs/ARCHITECTURE.md);
 * tests/api checks that every header in include/framepipe/ is listed here.
 *
 * The contract every function follows unless its comment says otherwise
 * (failure leaves *out untouched; destroy(T **) sets *p to NULL and takes
 * NULL; who owns what; which threads) is written once, in framepipe/error.h.
 */

/* layer 1: core */
#include "framepipe/atomic.h"
#include "framepipe/clock.h"
#include "framepipe/error.h"
#include "framepipe/json.h"
#include "framepipe/log.h"
#include "framepipe/metrics.h"
#include "framepipe/tensor.h"

/* layer 2: mem */
#include "framepipe/frame.h"
#include "framepipe/pool.h"
#include "framepipe/ring.h"

/* layer 3: ingest, prep, infer */
#include "framepipe/family.h"
#include "framepipe/geometry.h"
#include "framepipe/imgops.h"
#include "framepipe/labels.h"
#include "framepipe/model.h"
#include "framepipe/model_names.h"
#include "framepipe/prep.h"
#include "framepipe/source.h"
#include "framepipe/push.h"

/* layer 4: post */
#include "framepipe/detect.h"
#include "framepipe/post.h"

/* layer 5: logic */
#include "framepipe/rules.h"
#include "framepipe/track.h"

/* layer 6: sink, http */
#include "framepipe/http.h"
#include "framepipe/sink.h"
#include "framepipe/snapshot.h"
#include "framepipe/preview.h"
#include "framepipe/deliver.h"
#include "framepipe/reply.h"

/* layer 7: pipeline */
#include "framepipe/batcher.h"
#include "framepipe/config.h"
#include "framepipe/pipeline.h"

/* layer 8: dist */
#include "framepipe/dist.h"

#endif
