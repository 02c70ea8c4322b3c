// A staging directory a remote destination filled, put in its directory's place: see stage.cc.

#pragma once

#include <napi.h>

namespace blit {

// placeStaged(parent, stage, place, aside, dev, ino) -> 0 | 1 | 2 | 3: the directory `stage` of
// `parent` (a path; /proc/self/fd/N/. names a held directory), when it is still the directory of
// device `dev` and inode `ino` (BigInts), takes the name `place`. 1: nothing was there, and it
// took the name only while nothing was. 2: an empty directory was there; the two traded names
// atomically, and the empty one, checked empty again, is now under `stage`'s name (or, should
// something have been put in it and the two not trade back, holds that under `stage`'s name).
// 3: as 2 on a file system without renameat2's flags: the empty one was renamed to `aside`, checked
// empty there, and the staging directory renamed into its place. 0: neither (a name swapped,
// entries there, anything failing): nothing moved, or what moved was moved back. A 7th argument,
// true, places as on a file system without renameat2's flags (tests only).
Napi::Value PlaceStaged(const Napi::CallbackInfo& info);

}  // namespace blit
