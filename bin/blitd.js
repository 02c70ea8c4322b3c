#!/usr/bin/env node
import '../dist/blitd.js';
