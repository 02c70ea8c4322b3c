/** The shells `blit completions` writes a script for (completion-scripts.ts holds the scripts). */
export const COMPLETION_SHELLS = ['bash', 'zsh', 'fish'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** The candidate line that asks the shell for its own local path completion. */
export const FILES_DIRECTIVE = ':files';
