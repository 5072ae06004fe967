// The flow builder's graph view: steps as nodes in a layered layout, their connections (next, branch
// rules, choice options, error and timeout exits) as SVG curves. A connection is set by dragging from a
// node's port onto another node (pointer events, so mouse, pen and touch); the selects in the step form
// under the graph do the same from the keyboard. Problems from the server's check show on their node.

import { useRef, useState } from 'preact/hooks';

import { HEAD_H, NODE_W, SLOT_H, type Problem, type Step, layout, slotsOf } from './flow-model';

interface Drag { from: number; key: string; x1: number; y1: number; x2: number; y2: number; over: string | null }

export interface GraphProps {
  steps: Step[];
  problems: Problem[];
  selected: number | null;
  onSelect: (index: number) => void;
  onConnect: (index: number, slot: string, target: string) => void;
}

function summary(s: Step): string {
  const text = s.text ?? s.url ?? s.tag ?? s.label ?? s.field ?? s.note ?? (s.type === 'wait' ? `${s.seconds ?? 0} s` : '');
  return String(text ?? '');
}

function curve(x1: number, y1: number, x2: number, y2: number): string {
  const bend = Math.max(50, Math.abs(x2 - x1) / 2);
  return `M ${x1} ${y1} C ${x1 + bend} ${y1}, ${x2 - bend} ${y2}, ${x2} ${y2}`;
}

export function FlowGraph({ steps, problems, selected, onSelect, onConnect }: GraphProps) {
  const wrap = useRef<HTMLDivElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  const problemsOf = (id: string) => problems.filter((p) => p.step === id);
  const { boxes, width, height } = layout(steps, (id) => problemsOf(id).length);

  const nodeAt = (e: PointerEvent): string | null => {
    const el = document.elementFromPoint(e.clientX, e.clientY)?.closest('[data-node]');
    return el instanceof HTMLElement ? (el.dataset.node ?? null) : null;
  };
  const local = (e: PointerEvent) => {
    const r = wrap.current!.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const port = (from: number, key: string, x: number, y: number) => ({
    onPointerDown: (e: PointerEvent) => {
      e.preventDefault();
      e.stopPropagation();
      (e.currentTarget as Element).setPointerCapture?.(e.pointerId);
      setDrag({ from, key, x1: x, y1: y, x2: x, y2: y, over: null });
    },
    onPointerMove: (e: PointerEvent) => {
      if (!drag) return;
      // Near the canvas's edges it scrolls, so a step out of view can be reached.
      const canvas = wrap.current?.parentElement;
      if (canvas) {
        const r = canvas.getBoundingClientRect();
        canvas.scrollBy(e.clientX > r.right - 40 ? 16 : e.clientX < r.left + 40 ? -16 : 0, e.clientY > r.bottom - 40 ? 16 : e.clientY < r.top + 40 ? -16 : 0);
      }
      const p = local(e);
      setDrag({ ...drag, x2: p.x, y2: p.y, over: nodeAt(e) });
    },
    onPointerUp: (e: PointerEvent) => {
      if (!drag) return;
      const over = nodeAt(e);
      setDrag(null);
      if (over) onConnect(drag.from, drag.key, over);
    },
    onPointerCancel: () => setDrag(null),
  });

  const edges = steps.flatMap((s) => {
    const b = boxes.get(s.id);
    if (!b) return [];
    return slotsOf(s).flatMap((slot, j) => {
      const t = slot.target ? boxes.get(slot.target) : undefined;
      if (!t || !slot.target) return [];
      const d = curve(b.x + NODE_W, b.y + HEAD_H + j * SLOT_H + SLOT_H / 2, t.x, t.y + HEAD_H / 2);
      return [<path key={`${s.id}.${slot.key}`} class={`flow-edge flow-edge-${slot.kind}`} d={d} data-edge={`${s.id}.${slot.key}>${slot.target}`} marker-end="url(#flow-arrow)" />];
    });
  });

  return (
    <div class="flow-canvas" data-testid="flow-graph">
      <div class="flow-plane" ref={wrap} style={{ width: `${width}px`, height: `${height}px` }}>
        <svg class="flow-edges" width={width} height={height} aria-hidden="true">
          <defs>
            <marker id="flow-arrow" class="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">
              <path d="M0 0 L10 5 L0 10 z" />
            </marker>
          </defs>
          {edges}
          {drag && <path class="flow-edge flow-edge-drag" d={curve(drag.x1, drag.y1, drag.x2, drag.y2)} />}
        </svg>
        {steps.map((s, i) => {
          const b = boxes.get(s.id);
          if (!b) return null;
          const slots = slotsOf(s);
          const mine = problemsOf(s.id);
          const cls = ['flow-node', mine.length ? 'flow-node-invalid' : '', selected === i ? 'flow-node-selected' : '', drag?.over === s.id ? 'flow-node-over' : ''].filter(Boolean).join(' ');
          return (
            <div key={s._k ?? s.id} class={cls} data-node={s.id} style={{ left: `${b.x}px`, top: `${b.y}px`, width: `${NODE_W}px`, height: `${b.h}px` }}
              role="button" tabIndex={0} aria-label={`Step ${s.id} (${s.type.replace('_', ' ')})${mine.length ? `, ${mine.length} problem(s)` : ''}: edit`}
              onClick={() => onSelect(i)} onKeyDown={(e) => {
                if (e.key !== 'Enter' && e.key !== ' ') return;
                e.preventDefault();
                onSelect(i);
              }}>
              <span class="flow-port-in" aria-hidden="true" />
              <div class="flow-node-head">
                <span class="badge">{s.type.replace('_', ' ')}</span> <strong title={s.id}>{s.id}</strong>
                <span class="flow-node-sub" title={summary(s)}>{summary(s) || '\u00a0'}</span>
              </div>
              {slots.length === 0 && <div class="flow-slot muted">{s.type === 'handoff' ? 'hands off; the bot stops' : 'the flow ends'}</div>}
              {slots.map((slot, j) => (
                <div key={slot.key} class="flow-slot">
                  <span title={slot.target ? `${slot.label} → ${slot.target}` : `${slot.label}: ends the flow`}>{slot.label}</span>
                  <span class={`flow-port flow-port-${slot.kind}${slot.target ? ' flow-port-linked' : ''}`} data-port={`${s.id}.${slot.key}`} title="Drag onto a step to connect"
                    {...port(i, slot.key, b.x + NODE_W, b.y + HEAD_H + j * SLOT_H + SLOT_H / 2)} />
                </div>
              ))}
              {mine.slice(0, 2).map((p, k) => <p key={k} class="flow-node-error" data-testid="node-error" title={`${p.field}: ${p.message}`}>{p.field}: {p.message}</p>)}
            </div>
          );
        })}
      </div>
    </div>
  );
}
