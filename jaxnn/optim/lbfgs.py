"""``torch.optim.LBFGS``: torch's whole ``step(closure)`` (inner iterations, line search) as one jittable update."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree

from ._core import check_lr_elements, rejects_parameters
from ._core import TorchOptimizer, update_to

__all__ = ["LBFGS", "LBFGSState"]


class LBFGSState(NamedTuple):
    """torch's ``optimizer.state[params[0]]``, with the history in fixed-size arrays.

    Attributes:
      func_evals, n_iter: int32 counts over all steps (torch's names).
      d, t: the last search direction (flat, all parameters concatenated in
        ``jax.tree.leaves`` order) and step length.
      old_dirs, old_stps: ``(history_size, n)``; rows ``[0, num_old)`` hold
        torch's lists ``old_dirs`` / ``old_stps``, oldest first.
      ro: ``(history_size,)``, torch's ``ro`` list in the same rows.
      num_old: int32, how many history rows are filled.
      H_diag: the initial Hessian scale.
      prev_flat_grad, prev_loss: the gradient and loss of the last iteration.
    """

    func_evals: jax.Array
    n_iter: jax.Array
    d: jax.Array
    t: jax.Array
    old_dirs: jax.Array
    old_stps: jax.Array
    ro: jax.Array
    num_old: jax.Array
    H_diag: jax.Array
    prev_flat_grad: jax.Array
    prev_loss: jax.Array


def _py_max(a, b):
    """Python's ``max(a, b)``: ``a`` unless ``b > a`` (torch runs these on host scalars)."""
    return jnp.where(b > a, b, a)


def _py_min(a, b):
    return jnp.where(b < a, b, a)


def cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """torch's ``_cubic_interpolate``: the minimiser of the cubic through two points and
    slopes, clamped to ``bounds``."""
    if bounds is None:
        xmin_bound, xmax_bound = jnp.where(x1 <= x2, x1, x2), jnp.where(x1 <= x2, x2, x1)
    else:
        xmin_bound, xmax_bound = bounds
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    d2 = jnp.sqrt(jnp.where(d2_square >= 0, d2_square, 0))
    min_pos = jnp.where(
        x1 <= x2,
        x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)),
        x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)),
    )
    clamped = _py_min(_py_max(min_pos, xmin_bound), xmax_bound)
    return jnp.where(d2_square >= 0, clamped, (xmin_bound + xmax_bound) / 2.0)


class _Bracket(NamedTuple):
    t: jax.Array  # (2,)
    f: jax.Array  # (2,)
    g: jax.Array  # (2, n)
    gtd: jax.Array  # (2,)


# Long on purpose: torch's `_strong_wolfe` as lax.while_loops in torch's order, one piece so that
# it reads against torch's (the bracketing and zoom phases share their state).
def strong_wolfe(obj_func, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """torch's ``_strong_wolfe`` line search along ``d`` from step ``t``, as ``lax.while_loop`` s.

    ``obj_func(t) -> (loss, flat_grad)`` at ``x + t * d``. Returns ``(f_new,
    g_new, t, ls_func_evals)`` as torch does; a one-point bracket (the strong
    Wolfe conditions met while bracketing) is kept as two equal entries.
    """
    dtype = d.dtype
    d_norm = jnp.max(jnp.abs(d))
    f_new, g_new = obj_func(t)
    gtd_new = g_new @ d
    zero = jnp.zeros([], dtype)
    i32 = lambda v: jnp.asarray(v, jnp.int32)  # noqa: E731

    # Phase 1: bracket an interval holding a point that satisfies the conditions.
    # carry: (t, f_new, g_new, gtd_new, t_prev, f_prev, g_prev, gtd_prev, ls_iter, evals, found, bracket, done)
    empty = _Bracket(jnp.zeros(2, dtype), jnp.zeros(2, dtype), jnp.zeros((2,) + g.shape, dtype), jnp.zeros(2, dtype))
    init = (t, f_new, g_new, gtd_new, zero, f, g, gtd, i32(0), i32(1), jnp.array(False), empty, jnp.array(False))

    def bracket_cond(c):
        return (c[8] < max_ls) & ~c[10]

    def bracket_body(c):
        t, f_new, g_new, gtd_new, t_prev, f_prev, g_prev, gtd_prev, ls_iter, evals, _, _, _ = c
        armijo_fails = (f_new > f + c1 * t * gtd) | ((ls_iter > 1) & (f_new >= f_prev))
        wolfe = jnp.abs(gtd_new) <= -c2 * gtd
        uphill = gtd_new >= 0
        pair = _Bracket(
            jnp.stack([t_prev, t]),
            jnp.stack([f_prev, f_new]),
            jnp.stack([g_prev, g_new]),
            jnp.stack([gtd_prev, gtd_new]),
        )
        single = _Bracket(
            jnp.stack([t, t]), jnp.stack([f_new, f_new]), jnp.stack([g_new, g_new]), jnp.stack([gtd_new, gtd_new])
        )
        found = armijo_fails | wolfe | uphill
        bracket = jax.tree.map(
            lambda a, b: jnp.where(armijo_fails, a, b),
            pair,
            jax.tree.map(lambda a, b: jnp.where(wolfe, a, b), single, pair),
        )
        done = ~armijo_fails & wolfe

        def extrapolate(_):
            min_step = t + 0.01 * (t - t_prev)
            max_step = t * 10
            t_next = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step))
            f_next, g_next = obj_func(t_next)
            return (t_next, f_next, g_next, g_next @ d, t, f_new, g_new, gtd_new, ls_iter + 1, evals + 1)

        def stay(_):
            return (t, f_new, g_new, gtd_new, t_prev, f_prev, g_prev, gtd_prev, ls_iter, evals)

        moved = lax.cond(found, stay, extrapolate, None)
        return moved + (found, bracket, done)

    t, f_new, g_new, gtd_new, _, _, _, _, ls_iter, evals, found, bracket, done = lax.while_loop(
        bracket_cond, bracket_body, init
    )
    # torch: max_ls reached while bracketing -> the bracket [0, t] (its gtd is never read: the zoom is skipped).
    hit_max = ls_iter == max_ls
    fallback = _Bracket(jnp.stack([zero, t]), jnp.stack([f, f_new]), jnp.stack([g, g_new]), bracket.gtd)
    bracket = jax.tree.map(lambda a, b: jnp.where(hit_max, a, b), fallback, bracket)

    def order(b):
        return jnp.where(b.f[0] <= b.f[1], i32(0), i32(1))

    # Phase 2: zoom into the bracket.
    def zoom_cond(c):
        b, low, ls_iter, evals, insuf, done, stop = c
        return ~done & (ls_iter < max_ls) & ~stop

    def zoom_body(c):
        b, low, ls_iter, evals, insuf, done, _ = c
        stop = jnp.abs(b.t[1] - b.t[0]) * d_norm < tolerance_change

        def step(_):
            high = 1 - low
            t = cubic_interpolate(b.t[0], b.f[0], b.gtd[0], b.t[1], b.f[1], b.gtd[1])
            b_max = _py_max(b.t[0], b.t[1])
            b_min = _py_min(b.t[0], b.t[1])
            eps = 0.1 * (b_max - b_min)
            near_edge = _py_min(b_max - t, t - b_min) < eps
            outside = insuf | (t >= b_max) | (t <= b_min)
            moved_t = jnp.where(jnp.abs(t - b_max) < jnp.abs(t - b_min), b_max - eps, b_min + eps)
            t = jnp.where(near_edge & outside, moved_t, t)
            insuf_next = near_edge & ~outside
            f_new, g_new = obj_func(t)
            gtd_new = g_new @ d
            worse = (f_new > f + c1 * t * gtd) | (f_new >= b.f[low])
            wolfe = jnp.abs(gtd_new) <= -c2 * gtd
            point = (t, f_new, g_new, gtd_new)

            def put(br, pos, values):
                return _Bracket(*(field.at[pos].set(v) for field, v in zip(br, values)))

            # worse: the new point replaces the high end.
            replaced_high = put(b, high, point)
            # otherwise: the high end may move to the low end, then the new point is the low end.
            flip = ~wolfe & (gtd_new * (b.t[high] - b.t[low]) >= 0)
            low_values = (b.t[low], b.f[low], b.g[low], b.gtd[low])
            shifted = jax.tree.map(lambda a, o: jnp.where(flip, a, o), put(b, high, low_values), b)
            replaced_low = put(shifted, low, point)
            new_b = jax.tree.map(lambda a, o: jnp.where(worse, a, o), replaced_high, replaced_low)
            new_low = jnp.where(worse, order(new_b), low)
            return new_b, new_low, ls_iter + 1, evals + 1, insuf_next, ~worse & wolfe

        def halt(_):
            return b, low, ls_iter, evals, insuf, done

        out = lax.cond(stop, halt, step, None)
        return out + (stop,)

    b, low, ls_iter, evals, _, _, _ = lax.while_loop(
        zoom_cond, zoom_body, (bracket, order(bracket), ls_iter, evals, jnp.array(False), done, jnp.array(False))
    )
    return b.f[low], b.g[low], b.t[low], evals


# Long on purpose: torch's LBFGS.step (its update_fn and iteration closures below) transcribed in
# torch's order with its variable names, so that each line maps to torch's.
@rejects_parameters
def LBFGS(
    lr: float = 1,
    max_iter: int = 20,
    max_eval: Optional[int] = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: Optional[str] = None,
) -> TorchOptimizer:
    """L-BFGS as torch computes it: one ``update`` is one torch ``step(closure)``.

    Call ``update(grads, state, params, value_fn=f)`` where ``f(params) ->
    scalar loss`` plays torch's closure and ``grads`` is its gradient at
    ``params`` (pass ``value=f(params)`` too when it is at hand, saving one
    evaluation). Inside one update, as torch's ``step``: stop at once if
    ``max|g| <= tolerance_grad``; else up to ``max_iter`` iterations of::

        d = -H g   (two-loop recursion over the last history_size pairs (s, y)
                    with y.s > 1e-10, H0 = y.s / y.y; d = -g on the first)
        t = min(1, 1 / sum|g|) * lr on torch's very first iteration, else lr
        stop if g.d > -tolerance_change
        x = x + t d        (line_search_fn=None: re-evaluate f unless last iteration)
        x = x + t* d       ('strong_wolfe': torch's bracketing and cubic zoom,
                            c1=1e-4, c2=0.9, at most max_eval - evals so far)
        stop after max_eval evaluations, at max|g| <= tolerance_grad,
        max|t d| <= tolerance_change or |f - f_prev| < tolerance_change

    The loops are ``lax.while_loop`` s, so the update jits (``value_fn`` is
    traced into it) and equals torch's step by step. Parameters are handled as
    one flat vector (``jax.tree.leaves`` order, torch's parameter order), as
    torch concatenates them. The history is a ``(history_size, n)`` array
    pair, allocated up front.

    Args:
      lr: the step length (scales the first step too).
      max_iter: iterations per update; max_eval: function evaluations per
        update (default ``max_iter * 5 // 4``).
      tolerance_grad, tolerance_change, history_size: as in torch.
      line_search_fn: ``None`` or ``'strong_wolfe'``.

    Raises:
      ValueError: negative ``lr`` (torch's message); a ``line_search_fn`` other
        than ``'strong_wolfe'`` (torch raises at the first step, here at
        construction); from ``update``, a missing ``value_fn``.

    Example:
      >>> import jax.numpy as jnp
      >>> f = lambda p: jnp.sum((p["x"] - 3.0) ** 2)
      >>> opt = LBFGS(line_search_fn="strong_wolfe")
      >>> params = {"x": jnp.zeros(2)}
      >>> grads = jax.grad(f)(params)
      >>> updates, state = opt.update(grads, opt.init(params), params, value_fn=f)

    Reference: ``torch.optim.LBFGS``.
    """
    check_lr_elements(lr)
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    if line_search_fn not in (None, "strong_wolfe"):
        raise ValueError(f"line_search_fn: only 'strong_wolfe' is supported, got {line_search_fn!r}")
    group = dict(
        lr=lr,
        max_iter=max_iter,
        max_eval=max_eval,
        tolerance_grad=tolerance_grad,
        tolerance_change=tolerance_change,
        history_size=history_size,
        line_search_fn=line_search_fn,
    )

    def init_fn(params):
        flat, _ = ravel_pytree(params)
        n, dtype = flat.shape[0], flat.dtype
        zeros = jnp.zeros(n, dtype)
        return LBFGSState(
            func_evals=jnp.zeros([], jnp.int32),
            n_iter=jnp.zeros([], jnp.int32),
            d=zeros,
            t=jnp.zeros([], dtype),
            old_dirs=jnp.zeros((history_size, n), dtype),
            old_stps=jnp.zeros((history_size, n), dtype),
            ro=jnp.zeros(history_size, dtype),
            num_old=jnp.zeros([], jnp.int32),
            H_diag=jnp.ones([], dtype),
            prev_flat_grad=zeros,
            prev_loss=jnp.zeros([], dtype),
        )

    def update_fn(
        grads, state, params=None, *, value_fn: Optional[Callable[[Any], Any]] = None, value: Any = None, **extra_args
    ):
        del extra_args
        if value_fn is None:
            raise ValueError(
                "LBFGS.update needs value_fn: call update(grads, state, params, value_fn=f) with "
                "f(params) -> loss, torch's closure"
            )
        if params is None:
            raise ValueError("LBFGS needs the parameters: call update(grads, state, params, value_fn=f)")
        x0, unravel = ravel_pytree(params)
        dtype = x0.dtype
        flat_grad, _ = ravel_pytree(jax.tree.map(lambda g, p: jnp.asarray(g, p.dtype), grads, params))
        if flat_grad.shape != x0.shape:
            raise ValueError(f"LBFGS.update: gradients of {flat_grad.shape[0]} elements, parameters of {x0.shape[0]}")
        scalar = lambda v: jnp.asarray(v, dtype)  # noqa: E731

        def evaluate(x):
            loss, g = jax.value_and_grad(value_fn)(unravel(x))
            return scalar(loss), ravel_pytree(g)[0].astype(dtype)

        loss = scalar(value_fn(params) if value is None else value)
        func_evals = state.func_evals + 1
        lr_, tol_grad, tol_change = scalar(lr), tolerance_grad, tolerance_change

        def iteration(c):
            (n_iter, st, x, g, loss, current_evals, _) = c
            n_iter = n_iter + 1
            state_n_iter = st.n_iter + 1
            first = state_n_iter == 1

            def restart(_):
                return (
                    -g,
                    jnp.zeros_like(st.old_dirs),
                    jnp.zeros_like(st.old_stps),
                    jnp.zeros_like(st.ro),
                    jnp.zeros([], jnp.int32),
                    jnp.ones([], dtype),
                )

            def lbfgs_direction(_):
                y = g - st.prev_flat_grad
                s = st.d * st.t
                ys = y @ s
                accept = ys > 1e-10
                full = st.num_old == history_size
                idx = jnp.where(full, history_size - 1, st.num_old)

                def push(buf, row):
                    # torch pops the oldest pair when the history is full, then appends.
                    pushed = jnp.where(full, jnp.roll(buf, -1, axis=0), buf).at[idx].set(row)
                    return jnp.where(accept, pushed, buf)

                old_dirs = push(st.old_dirs, y)
                old_stps = push(st.old_stps, s)
                ro = push(st.ro, 1.0 / ys)
                num_old = jnp.where(accept, jnp.minimum(st.num_old + 1, history_size), st.num_old)
                h_diag = jnp.where(accept, ys / (y @ y), st.H_diag)

                def back(k, carry):
                    q, al = carry
                    i = num_old - 1 - k
                    a = (old_stps[i] @ q) * ro[i]
                    return q - a * old_dirs[i], al.at[i].set(a)

                q, al = lax.fori_loop(0, num_old, back, (-g, jnp.zeros(history_size, dtype)))

                def forward(i, r):
                    be_i = (old_dirs[i] @ r) * ro[i]
                    return r + (al[i] - be_i) * old_stps[i]

                d = lax.fori_loop(0, num_old, forward, q * h_diag)
                return d, old_dirs, old_stps, ro, num_old, h_diag

            d, old_dirs, old_stps, ro, num_old, h_diag = lax.cond(first, restart, lbfgs_direction, None)
            inv_sum = 1.0 / jnp.sum(jnp.abs(g))
            t = jnp.where(first, jnp.where(inv_sum < 1, inv_sum, scalar(1.0)) * lr_, lr_)
            gtd = g @ d
            st = st._replace(
                n_iter=state_n_iter,
                d=d,
                t=t,
                old_dirs=old_dirs,
                old_stps=old_stps,
                ro=ro,
                num_old=num_old,
                H_diag=h_diag,
                prev_flat_grad=g,
                prev_loss=loss,
            )
            # torch breaks on ``gtd > -tolerance_change``: a nan gtd goes on, as there.
            descends = ~(gtd > -tol_change)

            def move(_):
                if line_search_fn == "strong_wolfe":
                    new_loss, new_g, t_ls, ls_evals = strong_wolfe(
                        # torch leaves the line search's own tolerance_change at its default 1e-9.
                        lambda tt: evaluate(x + tt * d),
                        t,
                        d,
                        loss,
                        g,
                        gtd,
                        max_ls=max_eval - current_evals,
                    )
                    return x + t_ls * d, new_g, new_loss, t_ls, ls_evals, jnp.max(jnp.abs(new_g)) <= tol_grad
                x_new = x + t * d

                def reevaluate(_):
                    new_loss, new_g = evaluate(x_new)
                    return new_g, new_loss, jnp.asarray(1, jnp.int32), jnp.max(jnp.abs(new_g)) <= tol_grad

                def keep(_):
                    return g, loss, jnp.asarray(0, jnp.int32), jnp.array(False)

                new_g, new_loss, ls_evals, opt_cond = lax.cond(n_iter != max_iter, reevaluate, keep, None)
                return x_new, new_g, new_loss, t, ls_evals, opt_cond

            def skip(_):
                return x, g, loss, t, jnp.asarray(0, jnp.int32), jnp.array(False)

            x, g, loss, t, ls_evals, opt_cond = lax.cond(descends, move, skip, None)
            st = st._replace(t=t, func_evals=st.func_evals + ls_evals)
            current_evals = current_evals + ls_evals
            stop = (
                ~descends
                | (n_iter == max_iter)
                | (current_evals >= max_eval)
                | opt_cond
                | (jnp.max(jnp.abs(d * t)) <= tol_change)
                | (jnp.abs(loss - st.prev_loss) < tol_change)
            )
            return (n_iter, st, x, g, loss, current_evals, stop)

        def run(_):
            carry = (
                jnp.asarray(0, jnp.int32),
                state._replace(func_evals=func_evals),
                x0,
                flat_grad,
                loss,
                jnp.asarray(1, jnp.int32),
                jnp.asarray(max_iter <= 0),
            )
            return lax.while_loop(lambda c: ~c[-1], iteration, carry)[1:3]

        def converged(_):
            return state._replace(func_evals=func_evals), x0

        optimal = jnp.max(jnp.abs(flat_grad)) <= tolerance_grad
        new_state, x = lax.cond(optimal, converged, run, None)
        new_params = unravel(x)
        return jax.tree.map(update_to, new_params, params), new_state

    opt = TorchOptimizer(init_fn, update_fn)
    opt.rule = None
    opt.param_groups = [group]
    opt.labels = None
    opt.torch_state_dict = lambda state, params: _state_dict(group, state, params)
    opt.from_torch_state_dict = lambda params, saved: _load_state_dict(group, init_fn(params), saved)
    return opt


def _state_dict(group: dict, state: LBFGSState, params: Any) -> dict[str, Any]:
    """torch's LBFGS ``state_dict()``: everything under parameter 0, the history as lists."""
    import torch

    n_leaves = len(jax.tree.leaves(params))
    entry: dict[str, Any] = {"func_evals": int(state.func_evals), "n_iter": int(state.n_iter)}
    if int(state.n_iter) > 0:
        tensor = lambda a: torch.from_numpy(np.array(a))  # noqa: E731
        n = int(state.num_old)
        entry.update(
            d=tensor(state.d),
            t=float(state.t),
            old_dirs=[tensor(row) for row in state.old_dirs[:n]],
            old_stps=[tensor(row) for row in state.old_stps[:n]],
            ro=[tensor(r) for r in state.ro[:n]],
            H_diag=tensor(state.H_diag),
            prev_flat_grad=tensor(state.prev_flat_grad),
            prev_loss=float(state.prev_loss),
        )
    return {"state": {0: entry}, "param_groups": [{**group, "params": list(range(n_leaves))}]}


def _load_state_dict(group: dict, state: LBFGSState, saved: dict[str, Any]) -> LBFGSState:
    """The jaxnn state of torch's LBFGS ``state_dict()`` (its ``al`` scratch list is not state)."""
    (saved_group,) = saved["param_groups"]
    for key, mine in group.items():
        if key in saved_group and saved_group[key] != mine:
            raise ValueError(
                f"the saved {key}={saved_group[key]!r} differs from this optimizer's {key}={mine!r}; "
                "build the optimizer with the saved values"
            )
    entry = saved["state"].get(0, {})
    if not entry:
        return state
    dtype = state.d.dtype
    as_array = lambda v: jnp.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype)  # noqa: E731
    state = state._replace(
        func_evals=jnp.asarray(entry["func_evals"], jnp.int32), n_iter=jnp.asarray(entry["n_iter"], jnp.int32)
    )
    if entry.get("d") is None:
        return state
    if as_array(entry["d"]).shape != state.d.shape:
        raise ValueError(f"saved LBFGS direction has shape {tuple(entry['d'].shape)}, the parameters {state.d.shape}")
    n = len(entry["old_dirs"])
    if n > state.old_dirs.shape[0]:
        raise ValueError(f"saved LBFGS history holds {n} pairs, history_size is {state.old_dirs.shape[0]}")

    def rows(values, buf):
        return buf.at[:n].set(jnp.stack([as_array(v) for v in values])) if n else buf

    return state._replace(
        d=as_array(entry["d"]),
        t=as_array(entry["t"]),
        old_dirs=rows(entry["old_dirs"], state.old_dirs),
        old_stps=rows(entry["old_stps"], state.old_stps),
        ro=rows(entry["ro"], state.ro),
        num_old=jnp.asarray(n, jnp.int32),
        H_diag=as_array(entry["H_diag"]),
        prev_flat_grad=as_array(entry["prev_flat_grad"]),
        prev_loss=as_array(entry["prev_loss"]),
    )
