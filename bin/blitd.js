#!/usr/bin/env node
// The daemon is an ES module bundle (bin/ is CommonJS for the CLI's code cache: see bin/blit.js).
import('../dist/blitd.js');
