/** Build the inspector page into `outdir` (default inspector/dist); resolves with the directory. */
export function buildInspector(outdir?: string): Promise<string>;
