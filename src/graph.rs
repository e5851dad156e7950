//! `journeyc graph`: a picture of each journey, as Mermaid, DOT or SVG.
//!
//! The IR is read once into a small neutral model (nodes, step groups, edges), and each
//! format writes that model, so the three pictures always agree. It reads only the IR
//! and the coverage items: no IO, no checker, no runtime. Items a test never reached
//! are coloured when the caller passes what tests reached.

use crate::coverage::{Item, Reached};
use crate::ir::{self, Action, Control, Expr, ExprKind, TimerTime, Trigger};

/// The format of the picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid `flowchart LR`, which GitHub renders in Markdown.
    Mermaid,
    /// A Graphviz `digraph`, left to right, with a cluster per step.
    Dot,
    /// A standalone SVG document, laid out in process.
    Svg,
}

/// Draws `journeys` in one document, one group per journey. With `reached`, what no
/// test reached is coloured, and a legend says so.
pub fn render(journeys: &[&ir::Journey], format: Format, reached: Option<&Reached>) -> String {
    let graphs: Vec<Graph> = journeys
        .iter()
        .enumerate()
        .map(|(i, j)| Builder::new(i, j, reached).build())
        .collect();
    let legend = reached.is_some();
    match format {
        Format::Mermaid => mermaid(&graphs, legend),
        Format::Dot => dot(&graphs, legend),
        Format::Svg => svg(&graphs, legend),
    }
}

/// One journey's picture, before any format.
#[derive(Debug)]
struct Graph {
    id: String,
    name: String,
    nodes: Vec<Node>,
    steps: Vec<Group>,
    edges: Vec<Edge>,
}

#[derive(Debug)]
struct Node {
    id: String,
    /// Lines of the label, unescaped.
    lines: Vec<String>,
    shape: Shape,
    /// The step group a page belongs to.
    step: Option<usize>,
    /// A page that no edge leads to.
    unreachable: bool,
    missed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Trigger,
    /// `on session started` and `on reply` handlers: events with no page of their own.
    Event,
    Page,
    Timer,
    End,
}

#[derive(Debug)]
struct Group {
    id: String,
    name: String,
    missed: bool,
}

#[derive(Debug)]
struct Edge {
    from: usize,
    to: usize,
    lines: Vec<String>,
    /// Timers are dashed: they fire later, not when the person acts.
    dashed: bool,
    missed: bool,
}

/// Where a chain of actions leads when it ends without a `go to` or `end session`.
#[derive(Clone)]
enum Next {
    Node(usize),
    /// To the node of this timer key, made when first needed.
    Timer(String),
    /// Nowhere: the person stays where they are.
    Stay,
}

/// What a chain of actions does, over all of its paths.
#[derive(Default)]
struct Flow<'a> {
    sends: Vec<usize>,
    /// `(step, page)` a `go to` lands on, or `None` for `end session`.
    moves: Vec<Option<(usize, usize)>>,
    timers: Vec<&'a Action>,
}

/// Walks `actions` into `flow`; true when some path ends without moving on.
fn walk<'a>(actions: &'a [Action], flow: &mut Flow<'a>) -> bool {
    for action in actions {
        match action {
            Action::SendSms { notification } if !flow.sends.contains(notification) => {
                flow.sends.push(*notification);
            }
            Action::StartTimer { .. } => flow.timers.push(action),
            Action::GoToPage { step, page } => {
                flow.moves.push(Some((*step, *page)));
                return false;
            }
            // A step's web flow starts at its first page.
            Action::GoToStep { step } => {
                flow.moves.push(Some((*step, 0)));
                return false;
            }
            Action::EndSession => {
                flow.moves.push(None);
                return false;
            }
            Action::If {
                branches,
                otherwise,
            } => {
                let mut falls = false;
                for (_, chain) in branches {
                    falls |= walk(chain, flow);
                }
                falls |= walk(otherwise, flow);
                if !falls {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

struct Builder<'a> {
    j: &'a ir::Journey,
    reached: Option<&'a Reached>,
    g: Graph,
    /// Node index of each page, by step and page.
    pages: Vec<Vec<usize>>,
    end: Option<usize>,
    timers: Vec<(String, usize)>,
}

impl<'a> Builder<'a> {
    fn new(index: usize, j: &'a ir::Journey, reached: Option<&'a Reached>) -> Self {
        let g = Graph {
            id: format!("j{index}"),
            name: j.name.clone(),
            nodes: Vec::new(),
            steps: Vec::new(),
            edges: Vec::new(),
        };
        Builder {
            j,
            reached,
            g,
            pages: Vec::new(),
            end: None,
            timers: Vec::new(),
        }
    }

    /// Whether coverage is shown and no test reached `item`.
    fn missed(&self, item: Item) -> bool {
        self.reached.is_some_and(|r| !r.has(&self.j.name, &item))
    }

    fn node(&mut self, id: String, lines: Vec<String>, shape: Shape, missed: bool) -> usize {
        self.g.nodes.push(Node {
            id: format!("{}_{id}", self.g.id),
            lines,
            shape,
            step: None,
            unreachable: false,
            missed,
        });
        self.g.nodes.len() - 1
    }

    fn build(mut self) -> Graph {
        let j = self.j;
        let triggers: Vec<usize> = j
            .triggers
            .iter()
            .enumerate()
            .map(|(index, t)| {
                let missed = self.missed(Item::Trigger { index });
                self.node(
                    format!("t{index}"),
                    vec![trigger_label(t)],
                    Shape::Trigger,
                    missed,
                )
            })
            .collect();
        let started = (!j.on_started.is_empty()).then(|| {
            self.node(
                "started".into(),
                vec!["on session started".into()],
                Shape::Event,
                false,
            )
        });
        for (s, step) in j.steps.iter().enumerate() {
            let missed = self.missed(Item::Step { step: s });
            self.g.steps.push(Group {
                id: format!("{}_s{s}", self.g.id),
                name: step.name.clone(),
                missed,
            });
            let nodes = (0..step.pages.len())
                .map(|p| {
                    let missed = self.missed(Item::Page { step: s, page: p });
                    let n = self.node(
                        format!("s{s}_p{p}"),
                        vec![step.pages[p].name.clone()],
                        Shape::Page,
                        missed,
                    );
                    self.g.nodes[n].step = Some(s);
                    n
                })
                .collect();
            self.pages.push(nodes);
        }
        let replies: Vec<usize> = j
            .reply_handlers
            .iter()
            .enumerate()
            .map(|(handler, h)| {
                let missed = self.missed(Item::Reply { handler });
                self.node(
                    format!("r{handler}"),
                    vec![reply_label(h)],
                    Shape::Event,
                    missed,
                )
            })
            .collect();

        // A session starts on the first page of step 1, after `on session started`.
        let entry = self.pages.first().and_then(|p| p.first().copied());
        let start = started.or(entry).map_or(Next::Stay, Next::Node);
        for (index, t) in j.triggers.iter().enumerate() {
            let actions = match t {
                Trigger::Link { .. } => &[][..],
                Trigger::Sms { actions, .. }
                | Trigger::Call { actions, .. }
                | Trigger::Api { actions }
                | Trigger::Schedule { actions, .. } => actions,
            };
            let missed = self.g.nodes[triggers[index]].missed;
            self.chain(
                triggers[index],
                Vec::new(),
                actions,
                start.clone(),
                false,
                missed,
            );
        }
        if let Some(started) = started {
            let next = entry.map_or(Next::Stay, Next::Node);
            self.chain(started, Vec::new(), &j.on_started, next, false, false);
        }
        for (s, step) in j.steps.iter().enumerate() {
            if let Some(&first) = self.pages[s].first() {
                let head = vec!["on enter".to_string()];
                self.chain(first, head, &step.on_enter, Next::Stay, false, false);
            }
            for (p, page) in step.pages.iter().enumerate() {
                let here = self.pages[s][p];
                // Without a `go to`, a button moves to the next page; the last page stays.
                let next = self.pages[s].get(p + 1).copied().unwrap_or(here);
                for (c, control) in page.controls.iter().enumerate() {
                    if let Control::Button { label, actions } = control {
                        let missed = self.missed(Item::Button {
                            step: s,
                            page: p,
                            control: c,
                        });
                        let head = vec![text(j, label)];
                        self.chain(here, head, actions, Next::Node(next), false, missed);
                    }
                }
            }
        }
        for (h, handler) in j.reply_handlers.iter().enumerate() {
            let missed = self.g.nodes[replies[h]].missed;
            self.chain(
                replies[h],
                Vec::new(),
                &handler.actions,
                Next::Stay,
                false,
                missed,
            );
        }

        for n in 0..self.g.nodes.len() {
            if self.g.nodes[n].shape == Shape::Page {
                let led_to = self.g.edges.iter().any(|e| e.to == n && e.from != n);
                self.g.nodes[n].unreachable = !led_to;
            }
        }
        self.g
    }

    /// Draws what `actions`, run at node `from`, lead to: one edge per place they can
    /// go, labelled with `head` and the notifications they send, then their timers.
    fn chain(
        &mut self,
        from: usize,
        head: Vec<String>,
        actions: &'a [Action],
        next: Next,
        dashed: bool,
        missed: bool,
    ) {
        let mut flow = Flow::default();
        let falls = walk(actions, &mut flow);
        let mut targets = Vec::new();
        for m in &flow.moves {
            let to = match *m {
                Some((s, p)) => self.pages.get(s).and_then(|ps| ps.get(p)).copied(),
                None => Some(self.end()),
            };
            if let Some(to) = to.filter(|t| !targets.contains(t)) {
                targets.push(to);
            }
        }
        if falls {
            let to = match next {
                Next::Node(n) => Some(n),
                Next::Timer(key) => Some(self.timer_node(&key)),
                Next::Stay => None,
            };
            if let Some(to) = to.filter(|t| !targets.contains(t)) {
                targets.push(to);
            }
        }
        let sends: Vec<String> = flow.sends.iter().map(|&n| self.sent(n)).collect();
        if targets.is_empty() {
            // Nothing moves, so what is sent is noted on the node it is sent from.
            if !sends.is_empty() {
                let node = &mut self.g.nodes[from];
                node.lines.extend(head.iter().cloned());
                node.lines.extend(sends.iter().cloned());
            }
        } else {
            let lines: Vec<String> = head.into_iter().chain(sends).collect();
            for to in targets {
                self.g.edges.push(Edge {
                    from,
                    to,
                    lines: lines.clone(),
                    dashed,
                    missed,
                });
            }
        }
        for timer in flow.timers {
            self.timer(from, timer, missed);
        }
    }

    /// A timer's actions run later, so they are drawn as dashed edges from where it is
    /// started, labelled with its key, its time and its calendar.
    fn timer(&mut self, from: usize, timer: &'a Action, missed: bool) {
        let Action::StartTimer {
            key,
            time,
            calendar,
            skip_if_missed,
            actions,
        } = timer
        else {
            return;
        };
        let when = match time {
            TimerTime::After { duration } => format!("after {}", expr(self.j, duration)),
            TimerTime::At { datetime } => format!("at {}", expr(self.j, datetime)),
        };
        let mut head = vec![format!("⏱ {key} {when}")];
        if let Some(c) = calendar {
            let name = &self.j.calendars[c.calendar].name;
            let zone = c
                .zone
                .as_ref()
                .map(|z| format!(" in {}", expr(self.j, z)))
                .unwrap_or_default();
            let policy = format!("{:?}", c.if_unavailable).to_lowercase();
            head.push(format!("on {name}{zone}, if unavailable {policy}"));
        }
        if *skip_if_missed {
            head.push("skip if missed".into());
        }
        let missed = missed || self.missed(Item::Timer { key: key.clone() });
        self.chain(from, head, actions, Next::Timer(key.clone()), true, missed);
    }

    fn timer_node(&mut self, key: &str) -> usize {
        if let Some((_, n)) = self.timers.iter().find(|(k, _)| k == key) {
            return *n;
        }
        let missed = self.missed(Item::Timer { key: key.into() });
        let id = format!("timer{}", self.timers.len());
        let n = self.node(id, vec![format!("⏱ {key}")], Shape::Timer, missed);
        self.timers.push((key.to_string(), n));
        n
    }

    fn end(&mut self) -> usize {
        if let Some(n) = self.end {
            return n;
        }
        let n = self.node("end".into(), vec!["end session".into()], Shape::End, false);
        self.end = Some(n);
        n
    }

    /// "✉ Name", and whether a test sent it when coverage is shown.
    fn sent(&self, index: usize) -> String {
        let name = &self.j.notifications[index].name;
        if self.missed(Item::Notification { index }) {
            format!("✉ {name} (never sent)")
        } else {
            format!("✉ {name}")
        }
    }
}

fn trigger_label(t: &Trigger) -> String {
    match t {
        Trigger::Link { slug } => format!("link \"{slug}\""),
        Trigger::Sms { to, .. } => format!("sms to {to}"),
        Trigger::Call { to, .. } => format!("call to {to}"),
        Trigger::Api { .. } => "api".into(),
        Trigger::Schedule {
            cron, time_zone, ..
        } => format!("schedule \"{cron}\" in {time_zone}"),
    }
}

fn reply_label(h: &ir::ReplyHandler) -> String {
    if h.keywords.is_empty() {
        return "on any reply".into();
    }
    let keywords: Vec<String> = h.keywords.iter().map(|k| format!("\"{k}\"")).collect();
    format!("on reply {}", keywords.join(", "))
}

/// A text as a person reads it: literal parts as written, `{{ … }}` for the rest.
fn text(j: &ir::Journey, e: &Expr) -> String {
    let part = |p: &Expr| match &p.kind {
        ExprKind::Text(s) => s.clone(),
        _ => format!("{{{{ {} }}}}", expr(j, p)),
    };
    match &e.kind {
        ExprKind::Template(parts) => parts.iter().map(part).collect(),
        _ => part(e),
    }
}

/// A short form of an expression: names and literals as written, calls elided.
fn expr(j: &ir::Journey, e: &Expr) -> String {
    match &e.kind {
        ExprKind::Text(s) => format!("\"{s}\""),
        ExprKind::Number(n) => n.to_string(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Null => "null".into(),
        ExprKind::Phone(s) | ExprKind::Email(s) => format!("\"{s}\""),
        ExprKind::Duration(secs) => duration(*secs),
        ExprKind::Var(i) => j.vars.get(*i).map_or("…".into(), |v| v.name.clone()),
        ExprKind::Actor(f) => format!("actor.{f}"),
        ExprKind::Session(f) => format!("session.{f}"),
        ExprKind::JourneyLink => "journey_link".into(),
        ExprKind::Field(base, f) => format!("{}.{f}", expr(j, base)),
        ExprKind::Call(func, _) => format!("{}(…)", func.name()),
        ExprKind::Template(_) => format!("\"{}\"", text(j, e)),
        ExprKind::List(_) | ExprKind::Object(_) | ExprKind::Binary(..) | ExprKind::Unary(..) => {
            "…".into()
        }
    }
}

/// A duration in its largest whole unit, as the language writes it.
fn duration(secs: u64) -> String {
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60)] {
        if secs > 0 && secs.is_multiple_of(size) {
            return format!("{}{unit}", secs / size);
        }
    }
    format!("{secs}s")
}

const MISSED_FILL: &str = "#ffd6d6";
const MISSED_LINE: &str = "#cc0000";
const LEGEND: &str = "not reached by any test";

/// Mermaid: labels are quoted, and characters Mermaid would read are entity codes.
fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn mermaid_label(lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| mermaid_escape(l)).collect();
    format!("\"{}\"", lines.join("<br>"))
}

fn mermaid(graphs: &[Graph], legend: bool) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut unreachable = Vec::new();
    let mut missed = Vec::new();
    let mut missed_edges = Vec::new();
    let mut edge_count = 0;
    for g in graphs {
        out.push_str(&format!(
            "  subgraph {}[{}]\n    direction LR\n",
            g.id,
            mermaid_label(&[format!("journey {}", g.name)])
        ));
        let node_line = |n: &Node| {
            let label = mermaid_label(&n.lines);
            let shaped = match n.shape {
                Shape::Trigger => format!("([{label}])"),
                Shape::Event => format!("{{{{{label}}}}}"),
                Shape::Page => format!("[{label}]"),
                Shape::Timer => format!("[/{label}/]"),
                Shape::End => format!("(({label}))"),
            };
            format!("{}{shaped}", n.id)
        };
        for (s, step) in g.steps.iter().enumerate() {
            out.push_str(&format!(
                "    subgraph {}[{}]\n      direction LR\n",
                step.id,
                mermaid_label(&[format!("step {}", step.name)])
            ));
            for n in g.nodes.iter().filter(|n| n.step == Some(s)) {
                out.push_str(&format!("      {}\n", node_line(n)));
            }
            out.push_str("    end\n");
            if step.missed {
                missed.push(step.id.clone());
            }
        }
        for n in &g.nodes {
            if n.step.is_none() {
                out.push_str(&format!("    {}\n", node_line(n)));
            }
            if n.unreachable {
                unreachable.push(n.id.clone());
            }
            if n.missed {
                missed.push(n.id.clone());
            }
        }
        for e in &g.edges {
            let arrow = if e.dashed { "-.->" } else { "-->" };
            let label = if e.lines.is_empty() {
                String::new()
            } else {
                format!("|{}|", mermaid_label(&e.lines))
            };
            let (from, to) = (&g.nodes[e.from].id, &g.nodes[e.to].id);
            out.push_str(&format!("    {from} {arrow}{label} {to}\n"));
            if e.missed {
                missed_edges.push(edge_count.to_string());
            }
            edge_count += 1;
        }
        out.push_str("  end\n");
    }
    if legend {
        out.push_str(&format!(
            "  legend_missed[{}]\n",
            mermaid_label(&[LEGEND.into()])
        ));
        missed.push("legend_missed".into());
    }
    out.push_str("  classDef unreachable stroke-dasharray:5 5,color:#777\n");
    out.push_str(&format!(
        "  classDef missed fill:{MISSED_FILL},stroke:{MISSED_LINE}\n"
    ));
    if !unreachable.is_empty() {
        out.push_str(&format!("  class {} unreachable\n", unreachable.join(",")));
    }
    if !missed.is_empty() {
        out.push_str(&format!("  class {} missed\n", missed.join(",")));
    }
    if !missed_edges.is_empty() {
        out.push_str(&format!(
            "  linkStyle {} stroke:{MISSED_LINE},color:{MISSED_LINE}\n",
            missed_edges.join(",")
        ));
    }
    out
}

/// DOT: labels are quoted, so only `"` and `\` are escaped; lines join with `\n`.
fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn dot_label(lines: &[String]) -> String {
    let lines: Vec<String> = lines.iter().map(|l| dot_escape(l)).collect();
    format!("\"{}\"", lines.join("\\n"))
}

fn dot(graphs: &[Graph], legend: bool) -> String {
    let mut out = String::from("digraph journeys {\n  rankdir=LR;\n");
    out.push_str("  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    let missed_style = format!("fillcolor=\"{MISSED_FILL}\", color=\"{MISSED_LINE}\"");
    for g in graphs {
        out.push_str(&format!(
            "  subgraph cluster_{} {{\n    label={};\n",
            g.id,
            dot_label(&[format!("journey {}", g.name)])
        ));
        let node_line = |n: &Node| {
            let shape = match n.shape {
                Shape::Trigger => "cds",
                Shape::Event => "hexagon",
                Shape::Page => "box",
                Shape::Timer => "note",
                Shape::End => "doublecircle",
            };
            let mut style = vec!["rounded"];
            if n.unreachable {
                style.push("dashed");
            }
            let mut attrs = format!("label={}, shape={shape}", dot_label(&n.lines));
            if n.missed {
                style.push("filled");
                attrs.push_str(&format!(", {missed_style}"));
            }
            format!("{} [{attrs}, style=\"{}\"];", n.id, style.join(","))
        };
        for (s, step) in g.steps.iter().enumerate() {
            out.push_str(&format!(
                "    subgraph cluster_{} {{\n      label={};\n",
                step.id,
                dot_label(&[format!("step {}", step.name)])
            ));
            if step.missed {
                out.push_str(&format!("      style=filled; {missed_style};\n"));
            }
            for n in g.nodes.iter().filter(|n| n.step == Some(s)) {
                out.push_str(&format!("      {}\n", node_line(n)));
            }
            out.push_str("    }\n");
        }
        for n in g.nodes.iter().filter(|n| n.step.is_none()) {
            out.push_str(&format!("    {}\n", node_line(n)));
        }
        for e in &g.edges {
            let mut attrs = Vec::new();
            if !e.lines.is_empty() {
                attrs.push(format!("label={}", dot_label(&e.lines)));
            }
            if e.dashed {
                attrs.push("style=dashed".into());
            }
            if e.missed {
                attrs.push(format!(
                    "color=\"{MISSED_LINE}\", fontcolor=\"{MISSED_LINE}\""
                ));
            }
            let attrs = if attrs.is_empty() {
                String::new()
            } else {
                format!(" [{}]", attrs.join(", "))
            };
            let (from, to) = (&g.nodes[e.from].id, &g.nodes[e.to].id);
            out.push_str(&format!("    {from} -> {to}{attrs};\n"));
        }
        out.push_str("  }\n");
    }
    if legend {
        out.push_str(&format!(
            "  legend_missed [label={}, style=\"rounded,filled\", {missed_style}];\n",
            dot_label(&[LEGEND.into()])
        ));
    }
    out.push_str("}\n");
    out
}

/// Makes the writer's output fit in a page of several journeys: its ids get the
/// journey's prefix, so that they stay unique; the empty labels it puts on every edge
/// go; and every `<text>` moves after the shapes and lines, since the writer draws
/// edges last and an edge drawn over its own label would cross it out.
fn tidy(svg: &str, prefix: &str) -> String {
    let mut svg = svg.to_string();
    for id in ["startarrow", "endarrow", "arrow"] {
        svg = svg
            .replace(&format!("id=\"{id}"), &format!("id=\"{prefix}_{id}"))
            .replace(&format!("#{id}"), &format!("#{prefix}_{id}"));
    }
    let (mut shapes, mut texts) = (String::new(), String::new());
    let mut rest = svg.as_str();
    while let Some(start) = rest.find("<text") {
        let Some(len) = rest[start..].find("</text>") else {
            break;
        };
        let end = start + len + "</text>".len();
        shapes.push_str(&rest[..start]);
        let text = &rest[start..end];
        if !text.contains("></textPath>") {
            texts.push_str(text);
            texts.push('\n');
        }
        rest = &rest[end..];
    }
    shapes.push_str(rest);
    shapes + &texts
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// SVG: each journey is laid out left to right by `layout-rs` and the pictures are
/// stacked under their titles. `layout-rs` has no clusters, so a page names its step.
fn svg(graphs: &[Graph], legend: bool) -> String {
    const TITLE: f64 = 28.0;
    let mut body = String::new();
    let (mut width, mut y) = (320.0_f64, 8.0);
    for g in graphs {
        y += TITLE;
        body.push_str(&format!(
            "<text class=\"journey\" x=\"8\" y=\"{y}\">journey {}</text>\n",
            xml_escape(&g.name)
        ));
        let (inner, w, h) = svg_journey(g);
        body.push_str(&format!(
            "<svg class=\"graph\" id=\"{}\" x=\"0\" y=\"{}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\n{inner}</svg>\n",
            g.id,
            y + 8.0
        ));
        width = width.max(w);
        y += h + 16.0;
    }
    if legend {
        y += 8.0;
        body.push_str(&format!(
            "<g class=\"legend\"><rect x=\"8\" y=\"{y}\" width=\"24\" height=\"16\" fill=\"{MISSED_FILL}\" stroke=\"{MISSED_LINE}\"/><text x=\"40\" y=\"{}\">{LEGEND}</text></g>\n",
            y + 13.0
        ));
        y += 24.0;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{y}\" viewBox=\"0 0 {width} {y}\">\n<style>text {{ font-family: Helvetica, Arial, sans-serif; }} .journey {{ font-size: 18px; font-weight: bold; }} .graph text {{ paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }}</style>\n{body}</svg>\n"
    )
}

/// One journey laid out by `layout-rs`: the inside of its `<svg>`, its width and height.
fn svg_journey(g: &Graph) -> (String, f64, f64) {
    use layout::backends::svg::SVGWriter;
    use layout::core::base::Orientation;
    use layout::core::color::Color;
    use layout::core::style::{LineStyleKind, StyleAttr};
    use layout::std_shapes::render::get_shape_size;
    use layout::std_shapes::shapes::{Arrow, Element, LineEndKind, ShapeKind};
    use layout::topo::layout::VisualGraph;

    if g.nodes.is_empty() {
        return (String::new(), 1.0, 1.0);
    }
    let dir = Orientation::LeftToRight;
    let mut vg = VisualGraph::new(dir);
    let handles: Vec<_> = g
        .nodes
        .iter()
        .map(|n| {
            let mut lines = n.lines.clone();
            if let Some(s) = n.step {
                lines[0] = format!("{} › {}", g.steps[s].name, lines[0]);
            }
            if n.unreachable {
                lines.push("(unreachable)".into());
            }
            let label = lines.join("\n");
            let (shape, fill, class) = match n.shape {
                Shape::Trigger => (ShapeKind::new_box(&label), "#e3ecfa", "trigger"),
                Shape::Event => (ShapeKind::new_box(&label), "#fff3d6", "event"),
                Shape::Page => (ShapeKind::new_box(&label), "#ffffff", "page"),
                Shape::Timer => (ShapeKind::new_box(&label), "#f0f0f0", "timer"),
                Shape::End => (ShapeKind::new_circle(&label), "#ffffff", "end"),
            };
            let (fill, line) = if n.missed {
                (MISSED_FILL, MISSED_LINE)
            } else if n.unreachable {
                (fill, "#999999")
            } else {
                (fill, "#333333")
            };
            let mut class = class.to_string();
            if n.unreachable {
                class.push_str(" unreachable");
            }
            if n.missed {
                class.push_str(" missed");
            }
            let rounded = if n.shape == Shape::Page { 8 } else { 0 };
            let look = StyleAttr::new(Color::fast(line), 2, Some(Color::fast(fill)), rounded, 14);
            let size = get_shape_size(dir, &shape, 14, false);
            let props = format!("class=\"{class}\" id=\"{}\"", n.id);
            vg.add_node(Element::create_with_properties(
                shape, look, dir, size, props,
            ))
        })
        .collect();
    for e in &g.edges {
        let color = if e.missed { MISSED_LINE } else { "#333333" };
        let look = StyleAttr::new(Color::fast(color), 2, None, 0, 12);
        let style = if e.dashed {
            LineStyleKind::Dashed
        } else {
            LineStyleKind::Normal
        };
        let label = e.lines.join("\n");
        let arrow = Arrow::new(
            LineEndKind::None,
            LineEndKind::Arrow,
            style,
            &label,
            &look,
            &None,
            &None,
        );
        vg.add_edge(arrow, handles[e.from], handles[e.to]);
    }
    let mut writer = SVGWriter::new();
    vg.do_it(false, false, false, &mut writer);
    // The writer grows its height by each label's length, so the height is taken from
    // where the laid-out nodes and labels are instead.
    let bottom = vg
        .iter_nodes()
        .map(|n| vg.pos(n).bbox(false).1.y)
        .fold(0.0, f64::max);
    let out = writer.finalize();
    // The writer makes a whole document; its root's size is read back, and the root
    // is replaced by ours so the journey's picture can be placed in the page.
    let start = out.find("<svg").unwrap_or(0);
    let open_end = out[start..].find('>').map_or(out.len(), |i| start + i + 1);
    let attr = |name: &str| -> f64 {
        let root = &out[start..open_end];
        root.find(&format!(" {name}=\""))
            .and_then(|i| {
                let rest = &root[i + name.len() + 3..];
                rest[..rest.find('"')?].parse().ok()
            })
            .unwrap_or(1.0)
    };
    let (w, h) = (attr("width"), attr("height").min(bottom + 24.0));
    let inner = out[open_end..].trim_end().trim_end_matches("</svg>");
    (tidy(inner, &g.id), w, h)
}
