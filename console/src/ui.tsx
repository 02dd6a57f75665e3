// Small building blocks shared by the pages: polling, tables, dialogs, copy buttons, errors.
import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { describeError } from "./api";

// Live updates by polling: reloads every `ms` while the tab is visible, and at once on reload().
// A tick is skipped while a load is still out, so a slow daemon gets one request at a time from
// each page rather than a pile of them whose answers are all stale by the time they arrive.
export function usePoll<T>(fn: () => Promise<T>, deps: unknown[], ms = 5000) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const gen = useRef(0);
  const inFlight = useRef(0);
  const reload = useCallback(async () => {
    const mine = ++gen.current;
    inFlight.current++;
    try {
      const d = await fn();
      if (mine === gen.current) {
        setData(d);
        setError(null);
      }
    } catch (e) {
      if (mine === gen.current) setError(e);
    } finally {
      inFlight.current--;
      if (mine === gen.current) setLoading(false);
    }
  }, deps);
  useEffect(() => {
    setLoading(true);
    reload();
    const t = setInterval(() => {
      if (document.visibilityState === "visible" && inFlight.current === 0) reload();
    }, ms);
    return () => {
      clearInterval(t);
      gen.current++;
    };
  }, [reload, ms]);
  return { data, error, loading, reload };
}

export function ErrorBox({ error, onClose }: { error: unknown; onClose?: () => void }) {
  if (!error) return null;
  const d = describeError(error);
  return (
    <div class="error" role="alert">
      <div>
        <strong>{d.hint ?? "Kumo refused that."}</strong> {d.text !== d.hint && <span>{d.text}</span>}{" "}
        <code class="code">{d.code}</code>
      </div>
      {onClose && (
        <button class="link" onClick={onClose} aria-label="Dismiss error">
          ✕
        </button>
      )}
    </div>
  );
}

// A notice line for the outcome of an action ("i-… is stopping"); aria-live so it is read out.
export function useNotice() {
  const [notice, setNotice] = useState<{ text: string; error?: unknown } | null>(null);
  const view = notice ? (
    notice.error ? (
      <ErrorBox error={notice.error} onClose={() => setNotice(null)} />
    ) : (
      <div class="notice" role="status" aria-live="polite">
        {notice.text}
        <button class="link" onClick={() => setNotice(null)} aria-label="Dismiss">
          ✕
        </button>
      </div>
    )
  ) : (
    <div role="status" aria-live="polite" class="sr-only"></div>
  );
  return { notice: view, ok: (text: string) => setNotice({ text }), fail: (error: unknown) => setNotice({ text: "", error }) };
}

export interface Column<R> {
  key: string;
  label: string;
  value: (r: R) => string | number | undefined; // for sorting and filtering
  render?: (r: R) => ComponentChildren;
  numeric?: boolean;
}

// A sortable, filterable table. Rows are selectable with click or keyboard (Enter/Space) and
// offer a context menu (right-click or the row's menu key) when onMenu is given.
export function Table<R>(props: {
  label: string;
  columns: Column<R>[];
  rows: R[] | undefined;
  rowKey: (r: R) => string;
  selected?: string | null;
  onSelect?: (key: string | null) => void;
  onMenu?: (r: R, x: number, y: number) => void;
  empty?: ComponentChildren;
  filterable?: boolean;
  initialSort?: string;
  initialDir?: 1 | -1; // -1: newest or biggest first
}) {
  const [sort, setSort] = useState<{ key: string; dir: 1 | -1 }>({
    key: props.initialSort ?? props.columns[0].key,
    dir: props.initialDir ?? 1,
  });
  const [filter, setFilter] = useState("");
  const rows = useMemo(() => {
    const col = props.columns.find((c) => c.key === sort.key) ?? props.columns[0];
    const f = filter.trim().toLowerCase();
    const list = (props.rows ?? []).filter(
      (r) => !f || props.columns.some((c) => String(c.value(r) ?? "").toLowerCase().includes(f)),
    );
    return list.sort((a, b) => {
      const x = col.value(a) ?? "";
      const y = col.value(b) ?? "";
      return (typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y))) * sort.dir;
    });
  }, [props.rows, props.columns, sort, filter]);
  return (
    <div class="table-wrap">
      {props.filterable !== false && (
        <input
          class="filter"
          type="search"
          placeholder="Filter"
          aria-label={`Filter ${props.label}`}
          value={filter}
          onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
        />
      )}
      <div class="scroll">
        <table aria-label={props.label}>
          <thead>
            <tr>
              {props.columns.map((c) => (
                <th
                  scope="col"
                  class={c.numeric ? "num" : ""}
                  aria-sort={sort.key === c.key ? (sort.dir === 1 ? "ascending" : "descending") : "none"}
                >
                  <button
                    class="sort"
                    onClick={() => setSort({ key: c.key, dir: sort.key === c.key ? (-sort.dir as 1 | -1) : 1 })}
                  >
                    {c.label}
                    {sort.key === c.key ? (sort.dir === 1 ? " ▲" : " ▼") : ""}
                  </button>
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.rows === undefined ? (
              <tr>
                <td colSpan={props.columns.length} class="muted">
                  Loading…
                </td>
              </tr>
            ) : rows.length === 0 ? (
              <tr>
                <td colSpan={props.columns.length} class="muted">
                  {filter ? "Nothing matches the filter." : props.empty ?? "None yet."}
                </td>
              </tr>
            ) : (
              rows.map((r) => {
                const key = props.rowKey(r);
                const sel = props.selected === key;
                return (
                  <tr
                    key={key}
                    data-key={key}
                    class={sel ? "selected" : ""}
                    tabIndex={props.onSelect ? 0 : undefined}
                    aria-selected={props.onSelect ? sel : undefined}
                    onClick={() => props.onSelect?.(sel ? null : key)}
                    onKeyDown={(e) => {
                      // Keys on the row's own buttons and inputs are theirs.
                      if (e.target !== e.currentTarget) return;
                      if ((e.key === "Enter" || e.key === " ") && props.onSelect) {
                        e.preventDefault();
                        props.onSelect?.(sel ? null : key);
                      } else if (e.key === "ContextMenu" && props.onMenu) {
                        const rect = (e.currentTarget as HTMLElement).getBoundingClientRect();
                        e.preventDefault();
                        props.onMenu(r, rect.left + 40, rect.bottom);
                      }
                    }}
                    onContextMenu={
                      props.onMenu
                        ? (e) => {
                            e.preventDefault();
                            props.onSelect?.(key);
                            props.onMenu!(r, e.clientX, e.clientY);
                          }
                        : undefined
                    }
                  >
                    {props.columns.map((c) => (
                      <td class={c.numeric ? "num" : ""} data-col={c.key}>
                        {c.render ? c.render(r) : c.value(r)}
                      </td>
                    ))}
                  </tr>
                );
              })
            )}
          </tbody>
        </table>
      </div>
    </div>
  );
}

// A modal built on <dialog>: the browser traps focus, Escape closes it.
export function Modal(props: { title: string; open: boolean; onClose: () => void; children: ComponentChildren; wide?: boolean }) {
  const ref = useRef<HTMLDialogElement>(null);
  // Synced on every render: the page's state decides whether the dialog is open, not the browser.
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  });
  return (
    <dialog
      ref={ref}
      class={props.wide ? "wide" : ""}
      aria-label={props.title}
      // Escape asks the page (which may refuse while an action is running) instead of closing.
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <header class="dialog-head">
        <h2>{props.title}</h2>
        <button class="link" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </header>
      {props.open && props.children}
    </dialog>
  );
}

export function Confirm(props: {
  title: string;
  open: boolean;
  danger?: boolean;
  confirmLabel: string;
  onConfirm: () => void;
  onClose: () => void;
  children: ComponentChildren;
}) {
  return (
    <Modal title={props.title} open={props.open} onClose={props.onClose}>
      <div class="dialog-body">{props.children}</div>
      <footer class="dialog-foot">
        <button onClick={props.onClose}>Cancel</button>
        <button
          class={props.danger ? "danger" : "primary"}
          onClick={() => {
            props.onConfirm();
            props.onClose();
          }}
        >
          {props.confirmLabel}
        </button>
      </footer>
    </Modal>
  );
}

async function copyText(text: string) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context (http on a LAN address): the old way still works.
    const t = document.createElement("textarea");
    t.value = text;
    document.body.appendChild(t);
    t.select();
    const ok = document.execCommand("copy");
    t.remove();
    return ok;
  }
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button
      class="copy"
      onClick={async () => {
        setDone(await copyText(text));
        setTimeout(() => setDone(false), 1500);
      }}
    >
      {done ? "Copied ✓" : label}
    </button>
  );
}

export function CodeBlock({ text, label }: { text: string; label: string }) {
  return (
    <div class="codeblock">
      <pre aria-label={label}>{text}</pre>
      <CopyButton text={text} label={`Copy ${label}`} />
    </div>
  );
}

export function State({ state }: { state?: string }) {
  return <span class={`state state-${state ?? "unknown"}`}>{state ?? "unknown"}</span>;
}

export function usd(v: string | number | undefined, digits = 2): string {
  if (v === undefined || v === null || v === "") return "—";
  const n = typeof v === "number" ? v : Number(v);
  if (!isFinite(n)) return String(v);
  return `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 4 : digits)}`;
}

export function age(from?: Date | string, now = Date.now()): string {
  if (!from) return "—";
  const ms = now - new Date(from).getTime();
  if (ms < 0) return "0 min";
  const min = Math.floor(ms / 60000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h ${min % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function tagValue(tags: { Key?: string; Value?: string }[] | undefined, key: string): string {
  return tags?.find((t) => t.Key === key)?.Value ?? "";
}

export function download(filename: string, text: string, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function PageHead({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      <div class="actions">{children}</div>
    </div>
  );
}
