// The training step needs the loss ops and the decoder, which live in other parts of the tree.
// Until both are present (native/binding/model_wrap.h is the decoder's binding header) the train
// sources compile to nothing, so a tree without them still builds and loads.
#pragma once
#ifndef SDPO_TRAIN_ENABLED
#if __has_include("binding/model_wrap.h")
#define SDPO_TRAIN_ENABLED 1
#else
#define SDPO_TRAIN_ENABLED 0
#endif
#endif
