"""Column lineage derived from the project's SQL with sqlglot (dialect ``duckdb``), never written by hand.

:func:`column_lineage` takes the SQL text of a chain of statements, in the order they run (``CREATE
[OR REPLACE] [TEMP] TABLE x AS SELECT``, ``CREATE VIEW``, ``CREATE TABLE x (columns)``, ``INSERT INTO t
[(columns)] SELECT``, ``UPDATE``, ``DROP``), and answers, for each output column of one target table,
the base columns it is computed from: the tables and views the chain creates (temp tables, views) and
the CTEs and subqueries of each statement are resolved away, down to tables the chain does not create
(``clean.events``, ``raw.events``, ``labels.gold``...).

What counts as a dependency (the rule, purely syntactic, applied at every level of the chain):

- the columns that appear in the column's own expression, after resolving every reference through
  aliases, CTEs, subqueries, earlier select-list aliases and earlier statements;
- for a window function, its ``OVER`` clause too: ``PARTITION BY`` and ``ORDER BY`` columns (a named
  window, ``OVER by_person`` / ``WINDOW by_person AS (...)``, is inlined), since they decide which
  rows the value is computed over; for an aggregate, its ``FILTER (WHERE ...)`` clause;
- for a subquery nested in the expression (scalar subquery, ``x IN (SELECT ...)``), the dependencies
  of that subquery's output columns; an ``EXISTS (...)`` adds nothing (only whether rows exist counts);
- *not* the clauses that choose, group or order the rows: ``WHERE``, ``JOIN ... ON/USING``, ``GROUP
  BY``, ``HAVING``, ``QUALIFY``, ``ORDER BY``, ``LIMIT``, nor the right side of ``EXCEPT``/``INTERSECT``
  (OpenLineage calls those *indirect* dependencies; this module reports the *direct* ones only).

So ``count(*) FILTER (WHERE event_type = 'click') OVER (PARTITION BY person_key ORDER BY ts)``
depends on ``event_type``, ``person_key`` and ``ts``; ``mode(category) ... GROUP BY item_id`` depends
on ``category`` only; a column computed only from literals, functions without arguments (``now()``)
and parameters depends on nothing (``[]``).

Other conventions:

- ``$name`` parameters (DuckDB bound parameters) are replaced, before parsing, by the placeholder
  string literal ``'$name'`` (outside string literals, quoted identifiers and comments), so they
  parse anywhere a value may stand and contribute no column.
- ``SELECT *`` and ``alias.*`` (with DuckDB's ``EXCLUDE`` / ``REPLACE``) are expanded whenever the
  source's columns are known: a table or view created earlier in the chain, a CTE, a subquery, or a
  base table listed in ``schema``. A star over a base table whose columns are unknown stays a star:
  its unlisted columns *pass through* (a later ``i.position`` over it resolves to ``(table,
  "position")``), and if it reaches the target, the target gets a ``"*"`` column mapped to ``(table,
  "*")``.
- An unqualified column is looked up, in order, in the sources whose columns are known, then in the
  earlier aliases of the same select list, then in the sources whose columns are unknown (base
  tables); only if several base tables could hold it is it attributed to all of them (an
  over-approximation: pass ``schema`` to avoid it). A ``USING`` column comes from the leftmost source.
- ``CREATE TABLE IF NOT EXISTS t (columns)`` *declares* ``t``: it may already hold rows written
  elsewhere, so it stays a base table, now with known columns (as if listed in ``schema``);
  ``CREATE [OR REPLACE] [TEMP] TABLE t (columns)`` creates it empty here (it then holds only what the
  chain writes into it). ``ALTER TABLE ... ADD COLUMN`` extends either.
- ``INSERT INTO t SELECT ...`` without a column list maps the select's columns to ``t``'s columns by
  position when ``t``'s columns are known (created or declared earlier, or in ``schema``), else by
  the select's output names. Inserts *add* to a table's lineage (the union over the statements that
  fill it; an ``UPDATE ... SET c = expr`` adds ``expr``'s dependencies to ``c``); ``CREATE OR
  REPLACE`` replaces it. Unaliased expressions are named as DuckDB names them (their SQL text,
  approximately); duplicate names get ``_1``, ``_2``... as in DuckDB.
- Table functions (``read_csv(...)``) are opaque sources: their columns depend on nothing known here.
- ``a.b`` where ``a`` names no source is read, as DuckDB reads it, as field ``b`` of struct column
  ``a``. Anything that cannot be resolved (a column no source can hold, an ambiguous column, a
  ``MERGE``, a writing statement sqlglot could only keep as a raw command) raises
  :class:`LineageError` rather than returning a silently wrong lineage. Other statements
  (``DELETE``, ``CREATE SCHEMA``, transactions...) change no column lineage and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import dagster as dg
import sqlglot
from sqlglot import exp

from data_platform.base.openlineage_names import (
    OPENLINEAGE_NAMESPACE,
    OPENLINEAGE_PRODUCER,
    OPENLINEAGE_SCHEMA_URL,
)

DIALECT = "duckdb"
STAR = "*"

Dep = tuple[str, str]
Lineage = dict[str, list[Dep]]


class LineageError(ValueError):
    """The SQL holds a construct whose column lineage cannot be resolved."""


# --------------------------------------------------------------------------------------------------
# Parameters


# A string literal, a quoted identifier, a comment or a $$dollar-quoted$$ string is kept as it is;
# a $name (or $1) outside them is a bound parameter.
_PARAM_OR_SKIP = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$\$.*?\$\$|\$([A-Za-z_][A-Za-z0-9_]*|\d+)""",
    re.DOTALL,
)


def neutralise_params(sql: str) -> str:
    """``sql`` with each ``$name`` bound parameter replaced by the placeholder literal ``'$name'``.

    Parameters inside string literals, quoted identifiers and comments are left alone. The literal
    parses wherever a value may stand (``$day - INTERVAL 1 DAY``, ``$w::INTEGER``) and holds no column.
    """
    return _PARAM_OR_SKIP.sub(lambda m: f"'${m.group(1)}'" if m.group(1) else m.group(0), sql)


# --------------------------------------------------------------------------------------------------
# Relations: what is known of the columns of a table, CTE, subquery or query result


@dataclass
class _Relation:
    """Columns of a relation, each with the base columns it depends on.

    ``stars``: base tables whose columns are unknown and pass through unlisted (``SELECT *`` over
    them). ``default``: what any unlisted column depends on (table functions, ``UNNEST``), if known.
    """

    columns: dict[str, frozenset[Dep]] = field(default_factory=dict)
    stars: tuple[str, ...] = ()
    default: frozenset[Dep] | None = None

    def lookup(self, name: str) -> frozenset[Dep] | None:
        """The dependencies of column ``name``, or None if this relation cannot hold it."""
        if name in self.columns:
            return self.columns[name]
        if self.stars:
            return frozenset((table, name) for table in self.stars)
        return self.default

    @property
    def vague(self) -> bool:
        """Whether columns not listed may exist."""
        return bool(self.stars) or self.default is not None


@dataclass
class _Output:
    """A query's output: (name, deps) in select-list order, and the base tables a ``*`` passes on."""

    columns: list[tuple[str, frozenset[Dep]]]
    stars: tuple[str, ...] = ()

    def relation(self) -> _Relation:
        """The output as a relation readers can look columns up in (duplicate names renamed)."""
        return _Relation(dict(_dedupe_names(self.columns)), self.stars)


def _dedupe_names(columns: Iterable[tuple[str, frozenset[Dep]]]) -> list[tuple[str, frozenset[Dep]]]:
    seen: set[str] = set()
    out = []
    for name, deps in columns:
        unique, n = name, 0
        while unique in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique)
        out.append((unique, deps))
    return out


def _union(sets: Iterable[frozenset[Dep]]) -> frozenset[Dep]:
    out: set[Dep] = set()
    for s in sets:
        out |= s
    return frozenset(out)


# --------------------------------------------------------------------------------------------------
# Names


def _ident(node: exp.Expression | str | None) -> str:
    if node is None:
        return ""
    return (node if isinstance(node, str) else node.name).lower()


def _canonical(name: str) -> str:
    """``temp.x``, ``main.x``, ``temp.main.x`` are the session's ``x``."""
    parts = name.lower().split(".")
    while len(parts) > 1 and parts[0] in ("temp", "main"):
        parts = parts[1:]
    return ".".join(parts)


def _table_name(table: exp.Table) -> str:
    return _canonical(".".join(_ident(p) for p in (table.args.get("catalog"), table.args.get("db"), table.this) if p))


def _alias_columns(node: exp.Expression) -> list[str]:
    alias = node.args.get("alias")
    if isinstance(alias, exp.TableAlias):
        return [_ident(c) for c in alias.columns]
    return []


def _rename(rel: _Relation, names: list[str]) -> _Relation:
    """``AS t(a, b)``: the first columns renamed by position."""
    if not names:
        return rel
    items = list(rel.columns.items())
    if len(names) > len(items):
        raise LineageError(f"{len(names)} column aliases for {len(items)} known columns")
    renamed = [(new, deps) for new, (_, deps) in zip(names, items)] + items[len(names) :]
    return _Relation(dict(renamed), rel.stars, rel.default)


# --------------------------------------------------------------------------------------------------
# Scopes: the sources one SELECT reads, for resolving its column references


@dataclass
class _Source:
    alias: str
    name: str  # the table's full name, or the alias for subqueries
    rel: _Relation


@dataclass
class _Scope:
    env: dict[str, _Relation]  # chain tables and views, then CTEs in reach
    outer: _Scope | None = None
    sources: list[_Source] = field(default_factory=list)
    using: set[str] = field(default_factory=set)
    aliases: dict[str, frozenset[Dep]] = field(default_factory=dict)
    windows: dict[str, exp.Window] = field(default_factory=dict)

    def find_source(self, qualifier: str) -> _Source | None:
        scope: _Scope | None = self
        while scope is not None:
            for src in scope.sources:
                if qualifier in (src.alias, src.name) or _canonical(qualifier) == src.name:
                    return src
            scope = scope.outer
        return None

    def find_unqualified(self, name: str) -> frozenset[Dep]:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.using:
                for src in scope.sources:
                    deps = src.rel.lookup(name)
                    if deps is not None:
                        return deps
            known = [src for src in scope.sources if name in src.rel.columns]
            if len(known) == 1:
                return known[0].rel.columns[name]
            if len(known) > 1:
                raise LineageError(f"ambiguous column {name!r}: in {', '.join(s.alias for s in known)}")
            if name in scope.aliases:
                return scope.aliases[name]
            vague = [src.rel.lookup(name) for src in scope.sources if src.rel.vague]
            if vague:
                return _union(d for d in vague if d is not None)
            scope = scope.outer
        raise LineageError(f"column {name!r} is in none of the sources")


# --------------------------------------------------------------------------------------------------
# Resolution


class _Resolver:
    def __init__(self, schema: Mapping[str, Sequence[str]] | None = None):
        self.catalog: dict[str, _Relation] = {}
        self.schema = {_canonical(t): [c.lower() for c in cols] for t, cols in (schema or {}).items()}

    # ---- relations read by name

    def base(self, name: str) -> _Relation:
        if name in self.schema:
            return _Relation({c: frozenset({(name, c)}) for c in self.schema[name]})
        return _Relation(stars=(name,))

    def named(self, name: str, env: Mapping[str, _Relation]) -> _Relation:
        if name in env:
            return env[name]
        if name in self.catalog:
            return self.catalog[name]
        return self.base(name)

    # ---- queries

    def query(self, node: exp.Expression, env: dict[str, _Relation], outer: _Scope | None = None) -> _Output:
        while isinstance(node, exp.Subquery):
            node = node.this
        env = self.ctes(node, env, outer)
        if isinstance(node, exp.SetOperation):
            left = self.query(node.left, env, outer)
            if not isinstance(node, exp.Union):  # EXCEPT / INTERSECT: the right side only selects rows
                return left
            right = self.query(node.right, env, outer)
            if len(left.columns) != len(right.columns) and not (left.stars or right.stars):
                raise LineageError("UNION sides with different column counts")
            merged = [(name, deps | r) for (name, deps), (_, r) in zip(left.columns, right.columns)]
            merged += left.columns[len(merged) :]
            return _Output(merged, tuple(dict.fromkeys(left.stars + right.stars)))
        if isinstance(node, exp.Select):
            return self.select(node, env, outer)
        if isinstance(node, exp.Values):
            names = _alias_columns(node)
            width = len(node.expressions[0].expressions) if node.expressions else 0
            names += [f"col{i}" for i in range(len(names), width)]
            return _Output([(n, frozenset()) for n in names])
        raise LineageError(f"unsupported query: {node.sql(dialect=DIALECT)[:80]}")

    def ctes(self, node: exp.Expression, env: dict[str, _Relation], outer: _Scope | None) -> dict[str, _Relation]:
        with_ = node.args.get("with_") or node.args.get("with")
        if not with_:
            return env
        env = dict(env)
        for cte in with_.expressions:
            name = _ident(cte.alias)
            body = cte.this
            if with_.args.get("recursive") and isinstance(body, exp.Union):
                env[name] = _rename(self.query(body.left, env, outer).relation(), _alias_columns(cte))
            env[name] = _rename(self.query(body, env, outer).relation(), _alias_columns(cte))
        return env

    def select(self, node: exp.Select, env: dict[str, _Relation], outer: _Scope | None) -> _Output:
        scope = _Scope(env=env, outer=outer)
        for window in node.args.get("windows") or []:
            scope.windows[_ident(window.this)] = window
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is not None:
            self.add_source(from_.this, scope)
        for join in node.args.get("joins") or []:
            self.add_source(join.this, scope)
            scope.using.update(_ident(u) for u in join.args.get("using") or [])

        columns: list[tuple[str, frozenset[Dep]]] = []
        stars: list[str] = []
        for projection in node.expressions:
            if isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            ):
                expanded, passed = self.expand_star(projection, scope)
                columns += expanded
                stars += [t for t in passed if t not in stars]
                continue
            deps = self.expr(projection, scope)
            name = self.output_name(projection)
            columns.append((name, deps))
            scope.aliases.setdefault(name, deps)
        return _Output(_dedupe_names(columns), tuple(stars))

    @staticmethod
    def output_name(projection: exp.Expression) -> str:
        if isinstance(projection, exp.Alias):
            return _ident(projection.args["alias"])
        if isinstance(projection, exp.Column):
            return _ident(projection.this)
        return re.sub(r"'\$(\w+)'", r"$\1", projection.sql(dialect=DIALECT))

    def add_source(self, node: exp.Expression, scope: _Scope) -> None:
        alias = _ident(node.args.get("alias")) if isinstance(node.args.get("alias"), exp.TableAlias) else ""
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            name = _table_name(node)
            rel = _rename(self.named(name, scope.env), _alias_columns(node))
            scope.sources.append(_Source(alias or _ident(node.this), name, rel))
        elif isinstance(node, exp.Table):  # a table function: read_csv(...), range(...)
            rel = _Relation(default=frozenset())
            scope.sources.append(_Source(alias or _ident(node.this), alias, rel))
        elif isinstance(node, (exp.Subquery, exp.Lateral)) and isinstance(node.this, (exp.Query, exp.Subquery)):
            # A subquery sees the sources before it (DuckDB makes correlated subqueries lateral).
            rel = _rename(self.query(node.this, scope.env, scope).relation(), _alias_columns(node))
            scope.sources.append(_Source(alias, alias, rel))
        elif isinstance(node, exp.Values):
            rel = self.query(node, scope.env, scope).relation()
            scope.sources.append(_Source(alias, alias, rel))
        elif isinstance(node, (exp.Unnest, exp.Lateral)):
            deps = _union(self.expr(e, scope) for e in node.expressions or [node.this])
            names = _alias_columns(node)
            rel = _Relation({n: deps for n in names}, default=deps)
            scope.sources.append(_Source(alias, alias, rel))
        else:
            raise LineageError(f"unsupported source: {node.sql(dialect=DIALECT)[:80]}")

    def expand_star(self, projection: exp.Expression, scope: _Scope) -> tuple[list, list[str]]:
        if isinstance(projection, exp.Column):
            star = projection.this
            qualifier = ".".join(_ident(p) for p in projection.parts[:-1]) if projection.parts else ""
            qualifier = qualifier or ".".join(
                _ident(projection.args.get(k)) for k in ("catalog", "db", "table") if projection.args.get(k)
            )
            src = scope.find_source(qualifier)
            if src is None:
                raise LineageError(f"{qualifier}.* names no source")
            sources = [src]
        else:
            star, sources = projection, scope.sources
        excluded = {_ident(c) for c in star.args.get("except_") or star.args.get("except") or []}
        replaced = {_ident(a.args["alias"]): a.this for a in star.args.get("replace") or []}
        columns: list[tuple[str, frozenset[Dep]]] = []
        emitted: set[str] = set()
        passed: list[str] = []
        for src in sources:
            for name, deps in src.rel.columns.items():
                if name in excluded or (len(sources) > 1 and name in scope.using and name in emitted):
                    continue
                if name in replaced:
                    deps = self.expr(replaced[name], scope)
                columns.append((name, deps))
                emitted.add(name)
            passed += [t for t in src.rel.stars if t not in passed]
        return columns, passed

    # ---- expressions

    def expr(self, node: exp.Expression, scope: _Scope) -> frozenset[Dep]:
        deps: set[Dep] = set()
        self._walk(node, scope, frozenset(), deps, set())
        return frozenset(deps)

    def _walk(self, node, scope: _Scope, bound: frozenset[str], deps: set[Dep], windows_seen: set[str]) -> None:
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star):
                expanded, passed = self.expand_star(node, scope)
                deps.update(*(d for _, d in expanded))
                deps.update((t, STAR) for t in passed)
                return
            parts = [_ident(p) for p in node.parts]
            if len(parts) == 1 and parts[0] in bound:
                return
            deps.update(self.column(parts, scope))
            return
        if isinstance(node, exp.Exists):
            return
        if isinstance(node, exp.Query):
            out = self.query(node, scope.env, scope)
            deps.update(*(d for _, d in out.columns))
            deps.update((t, STAR) for t in out.stars)
            return
        if isinstance(node, exp.Lambda):
            bound = bound | {_ident(p) for p in node.expressions}
            self._walk(node.this, scope, bound, deps, windows_seen)
            return
        if isinstance(node, exp.Window):
            name = _ident(node.args.get("alias"))
            if name and name in scope.windows and name not in windows_seen:
                self._walk(scope.windows[name], scope, bound, deps, windows_seen | {name})
        for child in node.iter_expressions():
            self._walk(child, scope, bound, deps, windows_seen)

    def column(self, parts: list[str], scope: _Scope) -> frozenset[Dep]:
        # The longest prefix naming a source is the qualifier; what follows it is the column (then
        # struct fields). With no qualifier, the first part is the column.
        for k in range(len(parts) - 1, 0, -1):
            src = scope.find_source(".".join(parts[:k]))
            if src is not None:
                deps = src.rel.lookup(parts[k])
                if deps is None:
                    raise LineageError(f"column {parts[k]!r} is not in {src.alias or src.name}")
                return deps
        return scope.find_unqualified(parts[0])

    # ---- statements

    def statement(self, node: exp.Expression) -> None:
        if isinstance(node, exp.Create):
            self.create(node)
        elif isinstance(node, exp.Insert):
            self.insert(node)
        elif isinstance(node, exp.Update):
            self.update(node)
        elif isinstance(node, exp.Drop):
            if isinstance(node.this, exp.Table):
                self.catalog.pop(_table_name(node.this), None)
        elif isinstance(node, exp.Alter):
            self.alter(node)
        elif isinstance(node, exp.Merge):
            raise LineageError("MERGE is not supported")
        elif isinstance(node, exp.Command) and str(node.this).upper() in ("CREATE", "INSERT", "UPDATE", "ALTER"):
            # sqlglot keeps statements it cannot parse as raw commands: one that writes a table would
            # otherwise be skipped silently.
            raise LineageError(f"sqlglot could not parse: {node.sql(dialect=DIALECT)[:80]}")
        # Anything else (DELETE, CREATE SCHEMA/INDEX, SET, transactions...) changes no column lineage.

    def create(self, node: exp.Create) -> None:
        if (node.args.get("kind") or "").upper() not in ("TABLE", "VIEW"):
            return
        target = node.this
        declared: list[str] = []
        if isinstance(target, exp.Schema):
            declared = [_ident(c.this) for c in target.expressions if isinstance(c, exp.ColumnDef)]
            target = target.this
        name = _table_name(target)
        if node.args.get("exists") and (name in self.catalog or name in self.schema):
            return
        query = node.expression
        if isinstance(query, (exp.Query, exp.Subquery)):
            self.catalog[name] = _rename(self.query(query, {}).relation(), declared)
        elif node.args.get("exists"):
            # CREATE TABLE IF NOT EXISTS t (...) declares t: it may already hold rows written elsewhere,
            # so it stays a base table, now with known columns.
            self.schema[name] = declared
        else:  # created empty here: its columns hold only what later statements write
            self.catalog[name] = _Relation({c: frozenset() for c in declared})

    def alter(self, node: exp.Alter) -> None:
        if not isinstance(node.this, exp.Table):
            return
        name = _table_name(node.this)
        added = [_ident(a.this) for a in node.args.get("actions") or [] if isinstance(a, exp.ColumnDef)]
        if name in self.catalog:
            for col in added:
                self.catalog[name].columns.setdefault(col, frozenset())
        elif name in self.schema:
            self.schema[name] += [c for c in added if c not in self.schema[name]]

    def insert(self, node: exp.Insert) -> None:
        target = node.this
        listed: list[str] = []
        if isinstance(target, exp.Schema):
            listed = [_ident(c) for c in target.expressions]
            target = target.this
        name = _table_name(target)
        query = node.expression
        if not isinstance(query, (exp.Query, exp.Subquery)):
            raise LineageError(f"INSERT into {name} without a query")
        out = self.query(query, {})
        existing = self.catalog.get(name)
        by_name = bool(node.args.get("by_name"))
        declared = list(existing.columns) if existing is not None else self.schema.get(name, [])
        names = listed or ([] if by_name else declared)
        if names:
            if len(out.columns) > len(names):
                raise LineageError(f"INSERT into {name}: {len(out.columns)} values for {len(names)} columns")
            new = dict(zip(names, (deps for _, deps in out.columns)))
            # Past the listed values, a star over unknown columns fills the rest: matched by name.
            for rest in names[len(out.columns) :]:
                if not out.stars:
                    break
                new[rest] = frozenset((t, rest) for t in out.stars)
            stars: tuple[str, ...] = ()
        else:
            new, stars = dict(_dedupe_names(out.columns)), out.stars
        if existing is None:
            self.catalog[name] = _Relation(new, stars)
            return
        merged = dict(existing.columns)
        for col, deps in new.items():
            merged[col] = merged.get(col, frozenset()) | deps
        self.catalog[name] = _Relation(merged, tuple(dict.fromkeys(existing.stars + stars)), existing.default)

    def update(self, node: exp.Update) -> None:
        name = _table_name(node.this)
        current = self.catalog.get(name) or self.base(name)
        scope = _Scope(env={})
        alias = _ident(node.this.args.get("alias")) if node.this.args.get("alias") else ""
        scope.sources.append(_Source(alias or _ident(node.this.this), name, current))
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is not None:
            self.add_source(from_.this, scope)
        columns = dict(current.columns)
        for assignment in node.expressions:
            col = _ident(assignment.this)
            before = current.lookup(col) or frozenset()
            columns[col] = before | self.expr(assignment.expression, scope)
        self.catalog[name] = _Relation(columns, current.stars, current.default)


# --------------------------------------------------------------------------------------------------
# Public API


def column_lineage(
    statements: list[str],
    target_table: str,
    schema: Mapping[str, Sequence[str]] | None = None,
) -> Lineage:
    """For each output column of ``target_table``, the ``(base table, column)`` pairs it depends on.

    ``statements``: the SQL of a chain of statements in the order they run (each string may hold
    several statements separated by ``;``); later statements may read what earlier ones create.
    ``target_table`` must be created, declared or written by the chain. ``schema`` optionally lists
    the columns of base tables (``{"raw.events": [...]}``) so ``*`` over them expands.

    Temp tables, views, CTEs and subqueries are resolved away: every pair names a table the chain
    does not create. Pairs are sorted; a column computed from literals and parameters only maps to
    ``[]``; a ``*`` over a base table with unknown columns gives a ``"*"`` column mapped to ``(table,
    "*")``. See the module docstring for what counts as a dependency. Raises :class:`LineageError`
    when a reference cannot be resolved.
    """
    resolver = _Resolver(schema)
    for text in statements:
        try:
            nodes = sqlglot.parse(neutralise_params(text), read=DIALECT)
        except sqlglot.errors.ParseError as error:
            raise LineageError(f"sqlglot could not parse {text[:80]!r}: {error}") from error
        for node in nodes:
            if node is not None:
                resolver.statement(node)
    target = _canonical(target_table)
    if target not in resolver.catalog:
        raise LineageError(f"the statements do not create or write {target_table}")
    rel = resolver.catalog[target]
    lineage: Lineage = {col: sorted(deps) for col, deps in rel.columns.items()}
    if rel.stars:
        lineage[STAR] = [(t, STAR) for t in rel.stars]
    return lineage


def lineage_of_sql_files(
    files: list[tuple[str, dict]],
    target_table: str,
    schema: Mapping[str, Sequence[str]] | None = None,
) -> Lineage:
    """:func:`column_lineage` of the chain of ``sql/`` files ``(name, fragments)``, loaded with ``load_sql``."""
    from data_platform.resources import load_sql

    return column_lineage([load_sql(name, **(fragments or {})) for name, fragments in files], target_table, schema)


def asset_key_of_table(table: str) -> dg.AssetKey:
    """The asset key of a warehouse table: its schema and name (``clean.events`` -> ``clean/events``)."""
    return dg.AssetKey(table.split("."))


def to_dagster(
    lineage: Mapping[str, Sequence[Dep]],
    asset_key_fn: Callable[[str], dg.AssetKey | None] = asset_key_of_table,
) -> dg.TableColumnLineage:
    """The lineage as Dagster column lineage metadata (``dagster/column_lineage``).

    Each ``(table, column)`` becomes a ``TableColumnDep`` on ``asset_key_fn(table)``; a table mapped
    to None is left out. Columns without upstream keep an empty list.
    """
    deps_by_column = {}
    for column, deps in lineage.items():
        entries = []
        for table, col in deps:
            key = asset_key_fn(table)
            if key is not None:
                entries.append(dg.TableColumnDep(asset_key=key, column_name=col))
        deps_by_column[column] = entries
    return dg.TableColumnLineage(deps_by_column=deps_by_column)


def lineage_markdown(target: str, lineage: Mapping[str, Sequence[Dep]]) -> str:
    """A Markdown table ``column | from`` of ``target``'s lineage (``—`` where nothing upstream)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [f"Column lineage of `{cell(target)}`", "", "| column | from |", "| --- | --- |"]
    for column, deps in lineage.items():
        sources = ", ".join(f"`{cell(table)}.{cell(col)}`" for table, col in deps) or "—"
        lines.append(f"| `{cell(column)}` | {sources} |")
    return "\n".join(lines) + "\n"


def openlineage_facet(
    target: str,
    lineage: Mapping[str, Sequence[Dep]],
    namespace: str = OPENLINEAGE_NAMESPACE,
    producer: str = OPENLINEAGE_PRODUCER,
) -> dict:
    """The lineage of ``target`` as an OpenLineage ``ColumnLineageDatasetFacet`` (spec facet 1-2-0).

    ``{"_producer", "_schemaURL", "fields": {column: {"inputFields": [{"namespace", "name",
    "field"}]}}}``; every input field is a direct dependency (see the module docstring). ``target``
    names the dataset the facet belongs to: the facet goes under that output dataset's ``facets``
    (``columnLineage``) in the run event, so the name itself does not appear in the facet.
    """
    if not target:
        raise ValueError("the facet needs the dataset it describes")
    return {
        "_producer": producer,
        "_schemaURL": OPENLINEAGE_SCHEMA_URL,
        "fields": {
            column: {"inputFields": [{"namespace": namespace, "name": table, "field": col} for table, col in deps]}
            for column, deps in lineage.items()
        },
    }
