#!/usr/bin/env node
import '../dist/blit.js';
