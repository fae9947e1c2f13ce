/**
 * The part of dagre the chart layout uses, typed here: dagre's own declarations name
 * `@dagrejs/graphlib` in a way `module: nodenext` does not resolve, which would leave the
 * graph untyped.
 */
import * as dagre from '@dagrejs/dagre';

export interface Point {
  x: number;
  y: number;
}

/** A laid-out node: its centre and size. */
export interface LaidNode extends Point {
  width: number;
  height: number;
}

/** A laid-out edge: its route and its label's centre and size. */
export interface LaidEdge extends LaidNode {
  points: Point[];
}

export interface LayoutGraph {
  setGraph(label: Record<string, unknown>): void;
  setDefaultEdgeLabel(fn: () => Record<string, unknown>): void;
  setNode(name: string, label: { width: number; height: number }): void;
  setEdge(from: string, to: string, label: Record<string, unknown>, name: string): void;
  node(name: string): LaidNode;
  edge(from: string, to: string, name: string): LaidEdge;
  graph(): { width: number; height: number };
}

const api = dagre as unknown as { Graph: new (opts: { multigraph: boolean }) => LayoutGraph; layout(g: LayoutGraph): void };

/** An empty multigraph (several named edges between two nodes). */
export function newGraph(): LayoutGraph {
  return new api.Graph({ multigraph: true });
}

/** Lay the graph out in place. */
export function layoutGraph(g: LayoutGraph): void {
  api.layout(g);
}
