"""torch.nn.utils.parametrizations: ``weight_norm``, ``spectral_norm`` and ``orthogonal``
as parametrizations, with torch's state_dict keys.

* ``weight_norm(Linear)``: ``parametrizations.weight.original0`` (g, the norms
  except ``dim``) and ``parametrizations.weight.original1`` (v, the direction).
* ``spectral_norm(Linear)``: ``parametrizations.weight.original`` and the power
  iteration state ``parametrizations.weight.0._u`` / ``._v`` (buffers, updated
  by every training-mode access of the weight, as torch's).
* ``orthogonal(Linear)``: ``parametrizations.weight.original`` and, with
  ``use_trivialization``, the buffer ``parametrizations.weight.0.base``.
"""

from __future__ import annotations

import enum
from typing import Any, Optional

import jax
import jax.numpy as jnp
from flax import nnx

from ...module import Module
from ...parameter import Buffer
from . import _norm_ops
from .parametrize import register_parametrization

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


class _WeightNorm(Module):
    """``weight = g * v / ||v||`` with the norm over every axis but ``dim``."""

    def __init__(self, dim: Optional[int] = 0) -> None:
        self.dim = -1 if dim is None else dim

    def __call__(self, weight_g: jax.Array, weight_v: jax.Array) -> jax.Array:
        return _norm_ops.weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight: jax.Array) -> tuple[jax.Array, jax.Array]:
        return _norm_ops.norm_except_dim(weight, self.dim), weight


def weight_norm(module: nnx.Module, name: str = "weight", dim: Optional[int] = 0) -> nnx.Module:
    """Reparametrises ``module.<name>`` as ``g * v / ||v||`` (torch's
    ``parametrizations.weight_norm``); returns ``module``.

    ``g`` (``original0``) has the weight's shape with every axis but ``dim`` of size 1
    (``dim=None``: one norm for the whole tensor, 0-d); ``v`` (``original1``) is the
    weight itself at registration, so the module's output is unchanged.

    >>> lin = weight_norm(jaxnn.Linear(3, 4, rngs=nnx.Rngs(0)))
    >>> list(jaxnn.state_dict(lin))
    ['bias', 'parametrizations.weight.original0', 'parametrizations.weight.original1']
    """
    register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


class _SpectralNorm(Module):
    """``weight / sigma``, ``sigma`` the top singular value of the weight as a matrix
    (axis ``dim`` as rows), estimated by power iteration kept in buffers ``_u``, ``_v``."""

    def __init__(
        self,
        weight: jax.Array,
        n_power_iterations: int = 1,
        dim: int = 0,
        eps: float = 1e-12,
        *,
        rngs: Optional[nnx.Rngs] = None,
    ) -> None:
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, {ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(
                f"Expected n_power_iterations to be positive, but got n_power_iterations={n_power_iterations}"
            )
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = _norm_ops.weight_matrix(weight, self.dim)
            h, w = weight_mat.shape
            key_u, key_v = jax.random.split(rngs.params() if rngs is not None else jax.random.key(0))
            u = _norm_ops.normalize(jax.random.normal(key_u, (h,), weight.dtype), eps)
            v = _norm_ops.normalize(jax.random.normal(key_v, (w,), weight.dtype), eps)
            u, v = _norm_ops.power_iteration(weight_mat, u, v, 15, eps, u_first=True)
            self._u = Buffer(u)
            self._v = Buffer(v)

    def __call__(self, weight: jax.Array) -> jax.Array:
        if weight.ndim == 1:
            return weight / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(weight))), self.eps)
        weight_mat = _norm_ops.weight_matrix(weight, self.dim)
        u, v = self._u[...], self._v[...]
        if self.training:
            u, v = _norm_ops.power_iteration(weight_mat, u, v, self.n_power_iterations, self.eps, u_first=True)
            self._u[...] = u
            self._v[...] = v
        return weight / _norm_ops.sigma(weight_mat, u, v)

    def right_inverse(self, value: jax.Array) -> jax.Array:
        return value


def _default_dim(module: Any) -> int:
    """torch's ``dim=None``: 1 for transposed convolutions (their output channels), else 0."""
    return 1 if any(c.__name__.lstrip("_").startswith("ConvTranspose") for c in type(module).__mro__) else 0


def spectral_norm(
    module: nnx.Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: Optional[int] = None,
    *,
    rngs: Optional[nnx.Rngs] = None,
) -> nnx.Module:
    """Reparametrises ``module.<name>`` as ``W / sigma(W)`` (torch's
    ``parametrizations.spectral_norm``); returns ``module``.

    ``sigma`` is estimated by the power method: in training mode each access of
    the weight runs ``n_power_iterations`` rounds (``u = W v / |W v|``, ``v = W^T
    u / |W^T u|``, norms clamped at ``eps``) and stores ``u``, ``v`` in the
    buffers ``parametrizations.<name>.0._u`` / ``._v``; in eval mode the stored
    vectors are used. Gradients flow through ``sigma = u . W v`` with ``u``, ``v``
    constant, as torch's. ``u``, ``v`` start as normalised normal draws from
    ``rngs`` (a fixed key when ``None``; torch draws from its global generator)
    followed by 15 power rounds, so after loading a torch state_dict (which holds
    them) the numbers are torch's. A 1-D weight is just normalised.

    >>> lin = spectral_norm(jaxnn.Linear(3, 4, rngs=nnx.Rngs(0)))
    >>> list(jaxnn.state_dict(lin))
    ['bias', 'parametrizations.weight.original', 'parametrizations.weight.0._u', 'parametrizations.weight.0._v']
    """
    weight = getattr(module, name, None)
    if weight is None or not hasattr(weight, "ndim"):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    weight = jnp.asarray(weight[...])
    if dim is None:
        dim = _default_dim(module)
    register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps, rngs=rngs)
    )
    return module


class _OrthMaps(enum.Enum):
    matrix_exp = enum.auto()
    cayley = enum.auto()
    householder = enum.auto()


def _householder_product(a: jax.Array, tau: jax.Array) -> jax.Array:
    """``torch.linalg.householder_product``: the first ``k`` columns of ``H_1 ... H_k``,
    ``H_i = I - tau_i v_i v_i^H`` with ``v_i`` column ``i`` of ``a`` below the diagonal and 1
    on it. Written out (``k`` rank-one updates) because ``lax.linalg.householder_product``
    has no derivative."""
    n, k = a.shape[-2], a.shape[-1]
    rows = jnp.arange(n)
    q = jnp.broadcast_to(jnp.eye(n, k, dtype=a.dtype), a.shape)
    for i in reversed(range(k)):
        v = jnp.where(rows < i, 0, jnp.where(rows == i, 1, a[..., :, i])).astype(a.dtype)
        q = q - tau[..., i, None, None] * v[..., :, None] * (jnp.conj(v)[..., None, :] @ q)
    return q


def _make_orthogonal(a: jax.Array) -> jax.Array:
    """Q of the QR decomposition of ``a`` with R's diagonal made positive (torch's ``_make_orthogonal``)."""
    q, r = jnp.linalg.qr(a)
    return q * jnp.sign(jnp.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _is_orthogonal(q: jax.Array) -> bool:
    n, k = q.shape[-2], q.shape[-1]
    eps = 10.0 * n * float(jnp.finfo(q.dtype).eps)
    return bool(jnp.allclose(jnp.conj(jnp.swapaxes(q, -1, -2)) @ q, jnp.eye(k, dtype=q.dtype), atol=eps, rtol=1e-5))


class _Orthogonal(Module):
    """An orthogonal (unitary) matrix, or batch of them, from an unconstrained one:
    the exponential or Cayley transform of its skew-symmetric part, or a product of
    Householder reflections of its strictly lower triangle; with ``use_trivialization``
    multiplied on the left by the buffer ``base`` (the orthogonal matrix at the last
    assignment), as torch's ``_Orthogonal``."""

    def __init__(self, weight: jax.Array, orthogonal_map: _OrthMaps, *, use_trivialization: bool = True) -> None:
        if jnp.iscomplexobj(weight) and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex tensors.")
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map.name
        self.use_trivialization = use_trivialization
        self.base: Optional[Buffer] = nnx.data(None)

    def __call__(self, x: jax.Array) -> jax.Array:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = jnp.swapaxes(x, -1, -2)
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = jnp.tril(x)
            if n != k:
                x = jnp.concatenate([x, jnp.zeros(x.shape[:-2] + (n, n - k), x.dtype)], axis=-1)
            a = x - jnp.conj(jnp.swapaxes(x, -1, -2))
            if self.orthogonal_map == "matrix_exp":
                q = jax.scipy.linalg.expm(a)
            else:
                eye = jnp.eye(n, dtype=a.dtype)
                q = jnp.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            if n != k:
                q = q[..., :k]
        else:
            a = jnp.tril(x, -1)
            tau = 2.0 / (1.0 + jnp.sum(a * a, axis=-2))
            q = _householder_product(a, tau)
            q = q * jnp.diagonal(x, axis1=-2, axis2=-1).astype(jnp.int32).astype(q.dtype)[..., None, :]
        if self.base is not None:
            q = self.base[...] @ q
        if transposed:
            q = jnp.swapaxes(q, -1, -2)
        return q

    def right_inverse(self, q: jax.Array) -> jax.Array:
        if tuple(q.shape) != self.shape:
            raise ValueError(
                f"Expected a matrix or batch of matrices of shape {self.shape}. Got a tensor of shape {q.shape}."
            )
        q_init = q
        n, k = q.shape[-2], q.shape[-1]
        transpose = n < k
        if transpose:
            q = jnp.swapaxes(q, -1, -2)
            n, k = k, n
        if not self.use_trivialization:
            if self.orthogonal_map in ("cayley", "matrix_exp"):
                raise NotImplementedError(
                    "It is not possible to assign to the matrix exponential or the Cayley parametrizations "
                    "when use_trivialization=False."
                )
            # jax exports householder_product but not geqrf, its LAPACK partner.
            from jax._src.lax.linalg import geqrf

            a, tau = geqrf(q)
            diag = jnp.sign(jnp.diagonal(a, axis1=-2, axis2=-1))
            diag = jnp.where(tau == 0.0, -diag, diag)
            idx = jnp.arange(min(n, k))
            a = a.at[..., idx, idx].set(diag)
            return jnp.swapaxes(a, -1, -2) if transpose else a
        if n == k:
            q = q if _is_orthogonal(q) else _make_orthogonal(q)
        else:
            # torch completes a tall matrix with normal columns before orthogonalising.
            extra = jax.random.normal(jax.random.key(0), q.shape[:-2] + (n, n - k), q.dtype)
            q = _make_orthogonal(jnp.concatenate([q, extra], axis=-1))
        if self.base is not None and self.base[...].shape == q.shape:
            self.base.set_value(q)
        else:
            self.base = Buffer(q)
        neg_id = jnp.zeros_like(q_init)
        idx = jnp.arange(min(q_init.shape[-2:]))
        return neg_id.at[..., idx, idx].set(-1.0)


def orthogonal(
    module: nnx.Module,
    name: str = "weight",
    orthogonal_map: Optional[str] = None,
    *,
    use_trivialization: bool = True,
) -> nnx.Module:
    """Constrains ``module.<name>`` (a matrix or a batch of matrices) to be orthogonal
    (torch's ``parametrizations.orthogonal``); returns ``module``.

    ``orthogonal_map``: ``"matrix_exp"`` (default for square or complex weights),
    ``"cayley"`` or ``"householder"`` (default otherwise). With
    ``use_trivialization`` (default) the registration stores the orthogonalised
    current weight in the buffer ``parametrizations.<name>.0.base`` and the
    original starts at ``-I``, so the weight is orthogonal and close to the old
    one; a tall non-square weight is completed with random columns (from a fixed
    key here, torch's global generator there), so load torch's ``base`` for
    torch's numbers.

    >>> lin = orthogonal(jaxnn.Linear(3, 3, rngs=nnx.Rngs(0)))
    >>> bool(jnp.allclose(lin.weight @ lin.weight.T, jnp.eye(3), atol=1e-5))
    True
    """
    weight = vars(module).get(name)
    if not isinstance(weight, nnx.Variable):
        raise ValueError(f"Module '{type(module).__name__}' has no parameter or buffer with name '{name}'")
    weight = jnp.asarray(weight[...])
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.shape[-2] == weight.shape[-1]
        orthogonal_map = "matrix_exp" if square or jnp.iscomplexobj(weight) else "householder"
    orth_enum = getattr(_OrthMaps, str(orthogonal_map), None)
    if orth_enum is None:
        raise ValueError(
            f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: {orthogonal_map}'
        )
    register_parametrization(
        module, name, _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization), unsafe=True
    )
    return module
