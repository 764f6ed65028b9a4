"""Check every target against the XSD and plan the elements to write, in schema order.

A rule's path walks the schema from the block's element: every element and ``@attribute`` must
exist there. Intermediate elements of a path (``ForeignAmount`` in ``ForeignAmount/Value``) are
merged, so the rules of one block build one tree, which is then sorted by schema position
whatever the rule order. The checks: unknown names (listing the valid ones), ``for`` on an
element that cannot repeat, a single target filled twice, required children and attributes
left empty, a nullable value into a required target, a type that cannot fill the XSD type, a
literal that breaks a facet, two branches of a choice both filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from exportc.compiler import ir
from exportc.compiler.resolve import Frame, Resolver, Scope, did_you_mean, facts_of
from exportc.compiler.schema import ComplexType, Particle, SchemaModel, SimpleType, missing_children
from exportc.compiler.types import Type
from exportc.diagnostics import Diagnostic, Related, Span, error
from exportc.dsl import ast
from exportc.values import facet_problem, format_value

# Which value types can fill an XSD value category.
_FILLS = {
    "text": {"text", "int", "decimal", "date", "datetime", "bool"},
    "integer": {"int"},
    "decimal": {"int", "decimal"},
    "float": {"int", "decimal"},
    "double": {"int", "decimal"},
    "boolean": {"bool"},
    "date": {"date"},
    "datetime": {"datetime"},
    "time": {"text"},
}
_FILL_HINTS = {
    "integer": "round it first: round(x) gives a whole number; int(x) converts text",
    "decimal": "convert text with decimal(x)",
    "float": "convert text with decimal(x)",
    "double": "convert text with decimal(x)",
    "date": "a date field or a date literal (YYYY-MM-DD) is needed",
    "boolean": "a condition is needed, e.g. `x == 1`",
}


def facets_of(st: SimpleType) -> dict[str, object]:
    """The facets of a simple type that constrain values (for ``facet_problem``)."""
    out: dict[str, object] = {}
    for f in fields(st):
        if f.name in ("name", "category"):
            continue
        v = getattr(st, f.name)
        if v is not None and v != ():
            out[f.name] = v
    return out


@dataclass
class _Node:
    """Planner-side bookkeeping for one element being built."""

    element: ir.Element
    ctype: ComplexType | SimpleType
    path: str
    by_name: dict[str, _Node] = field(default_factory=dict)
    slot_spans: dict[str, Span] = field(default_factory=dict)
    always: set[str] = field(default_factory=set)
    filled: set[str] = field(default_factory=set)
    when_spans: dict[int, Span] = field(default_factory=dict)  # child block -> its `when`


class TargetPlanner:
    """Builds the ``ir.Element`` trees of a profile's blocks and checks them against the XSD."""

    def __init__(self, model: SchemaModel, resolver: Resolver, root: str, root_span: Span,
                 global_lets: dict[str, ast.LetDecl]) -> None:
        self.model = model
        self.r = resolver
        self.root = root
        self.root_span = root_span
        self.global_lets = global_lets
        self.diagnostics: list[Diagnostic] = []
        self.root_type: ComplexType | None = None
        particle = model.roots.get(root)
        if particle is None and ":" not in root:  # a namespaced root by its local name
            named = [p for name, p in model.roots.items() if name.split(":")[-1] == root]
            if len(named) == 1:
                particle = named[0]
                self.root = particle.name
        if particle is None:
            self.err("E0312", f"the schema has no global element `{root}`", root_span,
                     did_you_mean(root, model.roots) or
                     f"global elements include {', '.join(sorted(model.roots)[:8])}")
        else:
            t = model.type_of(particle)
            if isinstance(t, ComplexType):
                self.root_type = t

    def err(self, code: str, message: str, span: Span | None, hint: str | None = None,
            related: list[Related] | None = None) -> None:
        self.diagnostics.append(error(code, message, span, hint, related or []))

    # -- schema walking --
    def _child(self, ctype: ComplexType | SimpleType, name: str, parent: str, span: Span
               ) -> Particle | None:
        """The child element a path segment names; its namespace prefix may be left out where
        the local name is unambiguous (``Party/PartyName/Name`` for ``cac:Party/...``)."""
        matches = ctype.children_named(name) if isinstance(ctype, ComplexType) else []
        if len(matches) == 1:
            return matches[0]
        if matches:
            self.err("E0331", f"`{name}` is ambiguous in `{parent}`: it may be "
                     + " or ".join(f"`{p.name}`" for p in matches), span,
                     "write the namespace prefix to choose one")
            return None
        prefix = name.split(":")[0] if ":" in name else None
        if prefix is not None and prefix not in self.model.element_namespaces \
                and prefix not in self.model.namespaces:
            known = sorted(set(self.model.element_namespaces) | {k for k in self.model.namespaces if k})
            self.err("E0330", f"the namespace prefix `{prefix}` is not declared by the schema",
                     span, f"prefixes of this schema: {', '.join(known) or '(none)'}; or leave the "
                     f"prefix out: `{name.split(':', 1)[1]}`")
            return None
        valid = [p.name for p in ctype.particles()] if isinstance(ctype, ComplexType) else []
        if valid:
            local = {v.split(":")[-1]: v for v in valid}
            close = did_you_mean(name, valid) or (did_you_mean(name.split(":")[-1], local) or "")
            hint = close or "valid here: " + ", ".join(valid[:25]) + (", …" if len(valid) > 25 else "")
        else:
            hint = f"`{parent}` has no child elements"
        if isinstance(ctype, ComplexType) and name in ctype.attributes:
            hint = f"`{name}` is an attribute: write `@{name}`"
        self.err("E0301", f"`{parent}` has no element `{name}`", span, hint)
        return None

    # -- top-level blocks --
    def top_block(self, block: ast.Block, index: int, sources: dict[str, ir.SourceShape]
                  ) -> ir.TopBlock | None:
        if self.root_type is None:
            return None
        ctype: ComplexType | SimpleType = self.root_type
        particles: list[Particle] = []
        if block.document:  # the block is the root element itself, one per record
            name, position = self.root, 0
        else:
            parent = self.root
            for seg in block.path.split("/"):
                p = self._child(ctype, seg, parent, block.path_span)
                if p is None:
                    return None
                particles.append(p)
                ctype, parent = self.model.type_of(p), p.name
            name, position = particles[-1].name, particles[0].position
        scope = Scope(lets=(self.global_lets,))
        source = None
        if block.for_ is not None:
            if block.for_ not in sources:
                self.err("E0208", f"unknown source `{block.for_}`", block.span,
                         did_you_mean(block.for_, sources) or
                         (f"sources: {', '.join(sources)}" if sources else "declare it with "
                          "`source name key field { ... }`"))
                return None
            if particles:
                self._check_repeats(particles[-1], block)
            source = block.for_
            scope = Scope(frames=(Frame((source,), sources[source], 0),),
                          lets=(self.global_lets,), top_record=True)
        where = None
        if block.where is not None:
            if source is None:
                self.err("E0224", "`where` selects records, so it needs `for`", block.where.span,
                         "use `when` for a condition on a block without `for`")
            where = self.r.condition(block.where, scope, "a `where` condition")
            scope = scope.with_facts(facts_of(where))
        lets = {i.name: i for i in block.items if isinstance(i, ast.LetDecl)}
        file = self.file_name(block, scope.push_lets(lets) if lets else scope) if block.document else None
        set_checks: list[ir.SetCheck] = []
        path = self.root if block.document else f"{self.root}/{block.path}"
        element = self.element(name, ctype, block, scope, path, set_checks, top=source is not None)
        if element is None:
            return None
        return ir.TopBlock(index, tuple(p.name for p in particles[:-1]), position, source, where,
                           element, set_checks, block.span, self.root if block.document else None,
                           file)

    def file_name(self, block: ast.Block, scope: Scope) -> ir.Expr | None:
        """The file a document block writes each record to: a text (or number) per record."""
        if block.file is None:
            return None
        expr = self.r.expr(block.file, scope)
        if expr.type.name not in ("text", "int", "any"):
            self.err("E0307", f"a file name must be text, not {expr.type}", block.file.span,
                     "build it with text(x) or `+`: `Factuurnummer + \".xml\"`")
        elif expr.type.nullable:
            self.err("E0306", "the file name may be null", block.file.span,
                     "use coalesce(x, fallback)")
        return expr

    def _check_repeats(self, particle: Particle, block: ast.Block) -> None:
        if particle.max_occurs is not None and particle.max_occurs <= 1:
            self.err("E0303", f"`{particle.name}` occurs at most once, so it cannot be written "
                     f"`for` each record of `{block.for_}`", block.path_span,
                     "drop `for`, or target the element that repeats")

    # -- elements --
    def element(self, name: str, ctype: ComplexType | SimpleType, block: ast.Block, scope: Scope,
                path: str, set_checks: list[ir.SetCheck], top: bool = False) -> ir.Element | None:
        el = ir.Element(name, span=block.span)
        if block.when is not None:
            el.when = self.r.condition(block.when, scope, "a `when` condition")
            scope = scope.with_facts(facts_of(el.when))
        lets = {i.name: i for i in block.items if isinstance(i, ast.LetDecl)}
        if lets:
            scope = scope.push_lets(lets)
        node = _Node(el, ctype, path)
        for item in block.items:
            if isinstance(item, ast.Rule):
                self.rule(node, item, scope)
            elif isinstance(item, ast.Block):
                self.child_block(node, item, scope, set_checks)
            elif isinstance(item, ast.CheckDecl):
                self.check(el, item, scope, set_checks, top)
        self.finish(node)
        return el

    def _descend(self, node: _Node, segments: list[str], span: Span, implicit: bool = True
                 ) -> _Node | None:
        """Walk/create the intermediate elements of a path below ``node``."""
        for seg in segments:
            p = self._child(node.ctype, seg, node.element.name, span)
            if p is None:
                return None
            existing = node.by_name.get(p.name)
            if existing is not None:
                node = existing
                continue
            child = ir.Element(p.name, implicit=implicit, span=span)
            child_node = _Node(child, self.model.type_of(p), f"{node.path}/{p.name}")
            node.element.children.append((p.position, child))
            node.by_name[p.name] = child_node
            node.filled.add(p.name)
            node = child_node
        return node

    def rule(self, node: _Node, rule: ast.Rule, scope: Scope) -> None:
        segments = rule.target.split("/")
        last = segments[-1]
        target = self._descend(node, segments[:-1], rule.target_span)
        if target is None:
            return
        expr = self.r.expr(rule.value, scope)
        full = f"{target.path}/{last}"
        if last.startswith("@"):
            attr_name = last[1:]
            ctype = target.ctype
            attr = ctype.attributes.get(attr_name) if isinstance(ctype, ComplexType) else None
            if attr is None:
                names = list(ctype.attributes) if isinstance(ctype, ComplexType) else []
                self.err("E0302", f"`{target.element.name}` has no attribute `{attr_name}`",
                         rule.target_span, did_you_mean(attr_name, names) or
                         ("attributes here: " + ", ".join("@" + n for n in names) if names
                          else f"`{target.element.name}` has no attributes"))
                return
            if self._twice(target, last, rule):
                return
            slot = self.slot(expr, attr.type, attr.required, rule, full)
            target.element.attrs.append((attr_name, slot))
            return
        p = self._child(target.ctype, last, target.element.name, rule.target_span)
        if p is None:
            return
        last = p.name
        existing = target.by_name.get(last)
        child_type = existing.ctype if existing else self.model.type_of(p)
        simple = child_type if isinstance(child_type, SimpleType) else child_type.simple
        if simple is None:
            assert isinstance(child_type, ComplexType)  # a simple type is its own simple content
            parts = [*("@" + a for a in child_type.attributes), *(c.name for c in child_type.particles())]
            self.err("E0310", f"`{last}` holds elements, not a value", rule.target_span,
                     f"target one of its parts: {', '.join(parts[:10])}" if parts else None)
            return
        if existing is not None:
            if existing.element.text is not None:
                self._twice(existing, "#text", rule)
                return
            child_node = existing
        else:
            if self._twice(target, last, rule):
                return
            child_node = self._descend(target, [last], rule.target_span)  # type: ignore[assignment]
            assert child_node is not None
        required = p.min_occurs > 0 if existing is None else False
        child_node.element.text = self.slot(expr, simple, required, rule, full)
        child_node.slot_spans["#text"] = rule.span

    def _twice(self, node: _Node, key: str, rule: ast.Rule) -> bool:
        if key in node.slot_spans:
            self.err("E0304", f"`{rule.target}` is filled twice", rule.target_span,
                     "a single target takes one rule; remove one",
                     [Related(node.slot_spans[key], "first filled here")])
            return True
        node.slot_spans[key] = rule.span
        return False

    def slot(self, expr: ir.Expr, st: SimpleType, required: bool, rule: ast.Rule,
             full: str) -> ir.Slot:
        t = expr.type
        ok = _FILLS.get(st.category, _FILLS["text"])
        if t.name not in ok and t.name not in ("any", "null"):
            self.err("E0307", f"a {t.non_null()} cannot fill `{rule.target}` ({st.describe()})",
                     rule.value.span, _FILL_HINTS.get(st.category))
        if isinstance(expr, ir.Const) and expr.value is not None:
            text = format_value(expr.value)
            problem = facet_problem(text, facets_of(st))
            if problem:
                shown = text if len(text) <= 40 else text[:37] + "..."
                self.err("E0308", f"the value {shown!r} {problem} ({st.describe()})", rule.value.span)
        return ir.Slot(expr, st, required, rule.span, full)

    def child_block(self, node: _Node, block: ast.Block, scope: Scope,
                    set_checks: list[ir.SetCheck]) -> None:
        segments = block.path.split("/")
        parent = self._descend(node, segments[:-1], block.path_span)
        if parent is None:
            return
        last = segments[-1]
        p = self._child(parent.ctype, last, parent.element.name, block.path_span)
        if p is None:
            return
        last = p.name
        ctype = self.model.type_of(p)
        full = f"{parent.path}/{last}"
        if block.for_ is None:
            if block.where is not None:
                self.err("E0224", "`where` selects list elements, so it needs `for`",
                         block.where.span, "use `when` for a condition")
            if last in parent.by_name and (p.max_occurs is not None and p.max_occurs <= 1):
                self.err("E0304", f"`{last}` occurs at most once but is written by two blocks",
                         block.path_span, "merge the blocks",
                         [Related(parent.by_name[last].element.span or block.span,
                                  "first written here")])
                return
            el = self.element(last, ctype, block, scope, full, set_checks)
            if el is None:
                return
            parent.element.children.append((p.position, el))
            parent.filled.add(last)
            if el.when is None:
                parent.always.add(last)
            if p.max_occurs is not None and p.max_occurs <= 1:
                parent.by_name[last] = _Node(el, ctype, full)
            if el.when is not None:
                parent.when_spans[id(el)] = block.when.span if block.when else block.span
            return
        self._check_repeats(p, block)
        source = self._list_source(block, scope)
        if source is None:
            return
        depth = len(scope.frames)
        shape = self.r._list_shape(source)  # the list's record shape
        if shape is None:
            self.err("E0208", f"`{block.for_}` is not a list of records", block.span)
            return
        alias = block.for_.split(".")[-1]  # type: ignore[union-attr]
        if block.group_by:
            frame = self._group_frame(block, alias, shape, depth)
            if frame is None:
                return
            inner = scope.push_frame(frame)
        else:
            inner = scope.push_frame(Frame((alias,), shape, depth))
        where = None
        if block.where is not None:
            where = self.r.condition(block.where, inner, "a `where` condition")
            inner = inner.with_facts(facts_of(where))
        el = self.element(last, ctype, block, inner, full, set_checks)
        if el is None:
            return
        parent.element.children.append(
            (p.position, ir.Repeat(source, depth, el, where, block.span,
                                   block.group_by, alias)))
        parent.filled.add(last)

    def _group_frame(self, block: ast.Block, alias: str, shape: ir.SourceShape, depth: int
                     ) -> Frame | None:
        """A group's record: its key fields, and the list of its members under the list's name."""
        fields: dict[str, Type] = {}
        for k in block.group_by:
            if k not in shape.fields:
                self.err("E0210", f"`{alias}` has no field `{k}` to group by", block.span,
                         did_you_mean(k, shape.fields))
                return None
            fields[k] = shape.fields[k]
        group = ir.SourceShape(f"{shape.name}#group", block.group_by, None, fields,
                               {alias: shape}, {}, span=shape.span)
        return Frame((), group, depth, shadows=True)

    def _list_source(self, block: ast.Block, scope: Scope) -> ir.FieldRef | ir.PreviousRef | None:
        assert block.for_ is not None
        parts = block.for_.split(".")
        expr: ast.Expr = ast.Name(parts[0], span=block.span)
        for part in parts[1:]:
            expr = ast.Attr(expr, part, span=block.span)
        before = len(self.r.diagnostics)
        ref = self.r.expr(expr, scope)
        if len(self.r.diagnostics) > before:
            return None
        if not isinstance(ref, ir.FieldRef | ir.PreviousRef) or ref.type.name != "list" or not ref.type.record:
            self.err("E0208", f"`for {block.for_}` needs a list field of the record, but "
                     f"`{block.for_}` is {ref.type}", block.span)
            return None
        return ref

    def check(self, el: ir.Element, c: ast.CheckDecl, scope: Scope,
              set_checks: list[ir.SetCheck], top: bool) -> None:
        from exportc.compiler.functions import SET_CHECKS
        if isinstance(c.condition, ast.Call) and c.condition.func in SET_CHECKS:
            if not top:
                self.err("E0220", f"`{c.condition.func}` checks the records of a top-level "
                         "`for` block; move it there", c.span)
                return
            self.set_check(c, c.condition, scope, set_checks)
            return
        if c.per:
            self.err("E0220", "`per` belongs to set-level checks such as no_overlap() or "
                     "unique()", c.span)
        cond = self.r.condition(c.condition, scope, "a check")
        el.checks.append(ir.Check(cond, c.severity, self.r.message(c.parts, scope), c.span))

    def set_check(self, c: ast.CheckDecl, call: ast.Call, scope: Scope,
                  out: list[ir.SetCheck]) -> None:
        shown = next((p for p in c.parts if not isinstance(p, str)), None)
        if shown is not None:
            self.err("E0225", f"`{call.func}` compares records with each other, so its message "
                     "cannot name one record's values", shown.span,
                     "write the message without `{...}`; the report names both records")
            return
        args = tuple(self.r.expr(a, scope) for a in call.args)
        per = tuple(self.r.expr(ast.Name(p, span=c.span), scope) for p in c.per)
        if call.func == "no_overlap":
            if len(args) != 2:
                self.err("E0203", "no_overlap() takes a start and an end", call.span)
                return
            for a, node in zip(args, call.args, strict=True):
                if a.type.name not in ("date", "datetime", "int", "decimal", "any"):
                    self.err("E0204", f"no_overlap() needs dates, times or numbers, not {a.type}",
                             node.span)
                    return
        elif len(args) != 1:
            self.err("E0203", "unique() takes one value", call.span)
            return
        text = "".join(p for p in c.parts if isinstance(p, str))
        out.append(ir.SetCheck(call.func, args, per, c.severity, text, c.span))

    # -- completeness --
    def finish(self, node: _Node) -> None:
        """Sort children by schema position; report what is missing or filled wrongly."""
        el, ctype = node.element, node.ctype
        for _pos, child in el.children:
            if isinstance(child, ir.Element) and child.implicit:
                self.finish_implicit(node, child)
        el.children.sort(key=lambda pc: pc[0])  # stable: profile order within one position
        if isinstance(ctype, SimpleType) or (isinstance(ctype, ComplexType) and ctype.simple):
            if el.text is None and not el.implicit:
                self.err("E0305", f"`{el.name}` needs a value", el.span,
                         f"add a rule `... > {el.name}` or target it directly from the parent")
        self._nullable_required(node)
        if not isinstance(ctype, ComplexType):
            return
        self._plan_occurs(node, ctype)
        present = {name for name, _ in el.attrs}
        missing_attrs = [n for n, a in ctype.attributes.items() if a.required and n not in present]
        always = node.always | {n for n in node.filled if n in node.by_name and
                                self._is_always(node.by_name[n].element)}
        missing, conflicts = missing_children(ctype.content, node.filled, always)
        if missing_attrs or missing:
            parts = [*("@" + a for a in missing_attrs), *missing]
            self.err("E0305", f"`{el.name}` requires {', '.join(f'`{p}`' for p in parts)}, "
                     "which no rule fills", el.span,
                     "add a rule for each, e.g. `value > " + parts[0] + "`")
        for names in conflicts:
            self.err("E0309", f"`{el.name}` allows only one of {' or '.join(names)}, but both "
                     "are filled", el.span, "they are alternatives in the schema (xs:choice)")

    def _plan_occurs(self, node: _Node, ctype: ComplexType) -> None:
        """Bound each repeated child across all the sibling blocks that write it.

        What the blocks guarantee is decided here: unconditional siblings count towards
        ``minOccurs`` for certain, and without a ``for`` or a condition the most that can be
        written is known. Only what stays open is counted at run time (``ir.Occurs``).
        """
        writers: dict[str, list[ir.Element | ir.Repeat]] = {}
        for _, child in node.element.children:
            name = child.element.name if isinstance(child, ir.Repeat) else child.name
            writers.setdefault(name, []).append(child)
        for name, group in writers.items():
            p = ctype.child(name)
            if p is None:
                continue
            limit = ctype.max_count(name)
            single = [w for w in group if isinstance(w, ir.Element)]
            always = [w for w in single if self._is_always(w)]
            least = len(always)
            most = None if len(single) < len(group) else len(single)
            span = group[0].span or node.element.span
            assert span is not None
            if limit is not None and least > limit:
                self.err("E0315", f"`{node.element.name}` allows at most {limit} `{name}`, but "
                         f"{least} blocks always write it", always[limit].span,
                         "merge blocks, or make all but the allowed number conditional",
                         [Related(always[0].span or span, "first written here")])
                continue
            if (len(group) == 1 and p.min_occurs > 0 and single and
                    id(single[0]) in node.when_spans):
                self.err("E0311", f"`{name}` is required, so it cannot depend on `when`",
                         node.when_spans[id(single[0])],
                         "make the condition part of the values instead")
                continue
            minimum = p.min_occurs if least < p.min_occurs else 0
            maximum = limit if limit is not None and (most is None or most > limit) else None
            if minimum or maximum is not None:
                node.element.occurs.append(ir.Occurs(name, minimum, maximum, span))

    def _is_always(self, el: ir.Element) -> bool:
        if el.when is not None:
            return False
        if not el.implicit:
            return True
        slots = [s for _, s in el.attrs] + ([el.text] if el.text else [])
        return any(not s.expr.type.nullable for s in slots) or any(
            isinstance(c, ir.Element) and self._is_always(c) for _, c in el.children)

    def finish_implicit(self, parent: _Node, child: ir.Element) -> None:
        node = parent.by_name.get(child.name)
        if node is not None and node.element is child:
            self.finish(node)
        if self._is_always(child):
            parent.always.add(child.name)

    def _nullable_required(self, node: _Node) -> None:
        el = node.element
        slots = [s for _, s in el.attrs] + ([el.text] if el.text else [])
        if el.implicit and not self._is_always(el) and not (el.text and el.text.required):
            exprs = {repr(s.expr) for s in slots}
            if len(exprs) == 1 and not any(isinstance(c, ir.Element) for _, c in el.children):
                return  # written only when its one value is present, so never without it
        for s in slots:
            if s.required and s.expr.type.nullable:
                self.err("E0306", f"`{s.target.split('/', 1)[-1]}` is required, but this value "
                         f"may be null", s.span,
                         "use coalesce(x, fallback), or wrap the element in a block "
                         "`... when x != null { }`")

