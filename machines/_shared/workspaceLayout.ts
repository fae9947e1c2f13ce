/**
 * Where the service renders files into the workspace, by the kind of Nix file: the one home
 * of the layout. Aggregate kinds name the type of file they own; the facts record its path
 * from here, and the Nix port writes, scans and lists them in the workspace flake from here.
 */

/** One kind of Nix file the service renders. */
export interface NixFileLayout {
  /** The directory under the workspace root that holds every file of this type. */
  dir: string;
  /** The workspace-relative file of the resource called `name`. */
  path(name: string): string;
  /** The name of a file found under `dir` (one entry of the directory), or undefined if it is none of ours. */
  nameOf(entry: string, isDirectory: boolean): string | undefined;
  /** The output of the workspace flake that lists them. */
  flakeOutput: 'nixosModules' | 'overlays' | 'nixosConfigurations';
}

export const nixFileLayouts = {
  module: {
    dir: 'modules',
    path: (name: string) => `modules/${name}.nix`,
    nameOf: (entry: string, isDirectory: boolean) => (!isDirectory && entry.endsWith('.nix') ? entry.slice(0, -4) : undefined),
    flakeOutput: 'nixosModules',
  },
  overlay: {
    dir: 'overlays',
    path: (name: string) => `overlays/${name}.nix`,
    nameOf: (entry: string, isDirectory: boolean) => (!isDirectory && entry.endsWith('.nix') ? entry.slice(0, -4) : undefined),
    flakeOutput: 'overlays',
  },
  configuration: {
    dir: 'hosts',
    path: (name: string) => `hosts/${name}/configuration.nix`,
    nameOf: (entry: string, isDirectory: boolean) => (isDirectory ? entry : undefined),
    flakeOutput: 'nixosConfigurations',
  },
} as const satisfies Record<string, NixFileLayout>;

export type NixFileType = keyof typeof nixFileLayouts;
export const nixFileTypes = Object.keys(nixFileLayouts) as NixFileType[];
