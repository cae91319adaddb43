"""SwinIR (Liang et al. 2021, "SwinIR: Image Restoration Using Swin Transformer") in plain PyTorch.

This project's own code, modelled on the published architecture with the module and parameter
names of JingyunLiang/SwinIR's ``network_swinir.py``, so that users' released upscaler files
(classical ``001_classicalSR_*``, lightweight ``002_lightweightSR_*``, real-world ``003_realSR_*``,
SwinIR-M/S/L) load key for key: ``conv_first``, ``patch_embed.norm``,
``layers.I.residual_group.blocks.J.{norm1, attn.qkv, attn.proj, attn.relative_position_bias_table,
norm2, mlp.fc1, mlp.fc2}``, ``layers.I.conv``, ``norm``, ``conv_after_body`` and the upsampler's
``conv_before_upsample`` / ``upsample`` / ``conv_up1`` / ``conv_up2`` / ``conv_hr`` / ``conv_last``.
The derived buffers upstream files also hold (``relative_position_index``, ``attn_mask``) are
recomputed here: :func:`strip_derived` removes them before loading.

Why it is written here rather than loaded with ``spandrel``: spandrel 0.4 requires torchvision
(``import spandrel`` imports it), which does not import beside the torch this project pins.

Unlike upstream, the attention mask of the shifted windows is always computed for the input's
size (cached per size), so any input size runs, and attention goes through
``scaled_dot_product_attention`` (the same softmax(q k^T / sqrt(d) + bias + mask) v). Inputs are
padded to a multiple of the window by mirroring, as the upstream test script does, and cropped back.

Examples
--------
>>> import torch
>>> net = SwinIR(embed_dim=8, depths=(2,), num_heads=(2,), window_size=4, mlp_ratio=2.0,
...              upscale=2, upsampler="pixelshuffledirect")
>>> net(torch.rand(1, 3, 6, 9)).shape
torch.Size([1, 3, 12, 18])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: the reconstruction heads of the released models: classical SR, lightweight SR, real-world SR
UPSAMPLERS = ("pixelshuffle", "pixelshuffledirect", "nearest+conv")
#: upstream's RGB mean (DIV2K), subtracted before the network and added back after
RGB_MEAN = (0.4488, 0.4371, 0.4040)
#: features of the classical and real-world heads (fixed upstream)
NUM_FEAT = 64


def window_partition(x, ws: int):
    """``(B, H, W, C)`` -> ``(B * H/ws * W/ws, ws*ws, C)``: non-overlapping ws x ws windows, row-major."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows, ws: int, h: int, w: int):
    """Inverse of :func:`window_partition`: ``(B * nW, ws*ws, C)`` -> ``(B, H, W, C)``."""
    c = windows.shape[-1]
    x = windows.view(-1, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def relative_position_index(ws: int):
    """``(ws*ws, ws*ws)`` index into the ``(2ws-1)^2`` bias table of each pair of tokens in a window.

    Token ``i`` at ``(yi, xi)``, token ``j`` at ``(yj, xj)``: ``(yi-yj+ws-1) * (2ws-1) + (xi-xj+ws-1)``.

    >>> relative_position_index(2).tolist()
    [[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]]
    """
    ys, xs = torch.meshgrid(torch.arange(ws), torch.arange(ws), indexing="ij")
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + ws - 1
    dx = xs[:, None] - xs[None, :] + ws - 1
    return dy * (2 * ws - 1) + dx


def shift_mask(h: int, w: int, ws: int, shift: int):
    """``(nW, ws*ws, ws*ws)`` additive mask of the shifted windows: -100 between tokens that the
    cyclic shift brought together from different image regions, 0 elsewhere (upstream's values)."""
    region = torch.zeros(1, h, w, 1)
    cuts = (slice(0, -ws), slice(-ws, -shift), slice(-shift, None))
    n = 0
    for hs in cuts:
        for wsl in cuts:
            region[:, hs, wsl, :] = n
            n += 1
    win = window_partition(region, ws).squeeze(-1)  # nW, ws*ws
    diff = win[:, None, :] - win[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class WindowAttention(nn.Module):
    """Multi-head self-attention inside each window, with a learned relative-position bias."""

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True):
        super().__init__()
        self.dim, self.ws, self.num_heads = dim, window_size, num_heads
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        # derived, not saved: upstream files carry it as a buffer, strip_derived drops it
        self.register_buffer("rel_index", relative_position_index(window_size), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def bias(self):
        """``(heads, N, N)`` relative-position bias of one window (N = ws*ws)."""
        n = self.ws * self.ws
        return self.relative_position_bias_table[self.rel_index.reshape(-1)].view(n, n, -1).permute(2, 0, 1)

    def forward(self, x, mask=None):
        """``x``: ``(B * nW, N, C)`` windows; ``mask``: ``(nW, N, N)`` additive or None."""
        bw, n, c = x.shape
        q, k, v = self.qkv(x).reshape(bw, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        bias = self.bias().unsqueeze(0)  # 1, heads, N, N
        if mask is not None:
            nw = mask.shape[0]
            bias = (bias + mask.unsqueeze(1)).repeat(bw // nw, 1, 1, 1)  # window order: image-major
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
        return self.proj(out.transpose(1, 2).reshape(bw, n, c))


class SwinTransformerBlock(nn.Module):
    """LayerNorm, (shifted) window attention, residual; LayerNorm, MLP, residual."""

    def __init__(self, dim, num_heads, window_size, shift_size, mlp_ratio, qkv_bias):
        super().__init__()
        self.ws, self.shift = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self._masks: dict = {}

    def mask(self, h: int, w: int, device):
        key = (h, w, str(device))
        if key not in self._masks:
            if len(self._masks) > 8:  # tiles use one or two sizes; bound it all the same
                self._masks.clear()
            self._masks[key] = shift_mask(h, w, self.ws, self.shift).to(device)
        return self._masks[key]

    def forward(self, x, size):
        h, w = size
        b, _, c = x.shape
        y = self.norm1(x).view(b, h, w, c)
        if self.shift:
            y = torch.roll(y, shifts=(-self.shift, -self.shift), dims=(1, 2))
        y = self.attn(window_partition(y, self.ws), self.mask(h, w, x.device) if self.shift else None)
        y = window_reverse(y, self.ws, h, w)
        if self.shift:
            y = torch.roll(y, shifts=(self.shift, self.shift), dims=(1, 2))
        x = x + y.reshape(b, h * w, c)
        return x + self.mlp(self.norm2(x))


class BasicLayer(nn.Module):
    def __init__(self, dim, depth, num_heads, window_size, mlp_ratio, qkv_bias):
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(
                dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio, qkv_bias
            )
            for i in range(depth)
        )

    def forward(self, x, size):
        for blk in self.blocks:
            x = blk(x, size)
        return x


def _conv_block(dim: int, kind: str) -> nn.Module:
    """The convolution that closes each residual group and the body: one 3x3, or upstream's
    3conv bottleneck (3x3 to dim/4, 1x1, 3x3 back, LeakyReLU 0.2 between) used by SwinIR-L."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    if kind == "3conv":
        q = dim // 4
        return nn.Sequential(
            nn.Conv2d(dim, q, 3, 1, 1),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(q, q, 1, 1, 0),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(q, dim, 3, 1, 1),
        )
    raise ValueError(f"unknown resi_connection {kind!r} (known: 1conv, 3conv)")


def _tokens(x):
    return x.flatten(2).transpose(1, 2)  # B, C, H, W -> B, HW, C


def _image(x, size):
    return x.transpose(1, 2).reshape(x.shape[0], x.shape[2], size[0], size[1])


class RSTB(nn.Module):
    """Residual Swin Transformer block: a :class:`BasicLayer`, a convolution, a residual."""

    def __init__(self, dim, depth, num_heads, window_size, mlp_ratio, qkv_bias, resi_connection):
        super().__init__()
        self.residual_group = BasicLayer(dim, depth, num_heads, window_size, mlp_ratio, qkv_bias)
        self.conv = _conv_block(dim, resi_connection)

    def forward(self, x, size):
        return _tokens(self.conv(_image(self.residual_group(x, size), size))) + x


class _PatchEmbed(nn.Module):
    """Upstream's patch embedding at patch size 1: the optional LayerNorm (``patch_embed.norm``)."""

    def __init__(self, dim: int, norm: bool):
        super().__init__()
        self.norm = nn.LayerNorm(dim) if norm else None

    def forward(self, x):
        return self.norm(x) if self.norm is not None else x


class SwinIR(nn.Module):
    """SwinIR upscaler: ``(N, in_chans, h, w)`` in [0, 1] -> ``(N, in_chans, h*upscale, w*upscale)``.

    Parameters
    ----------
    in_chans : int
        Image channels (3; 1 for the gray models), in and out.
    embed_dim : int
        Feature channels (180 SwinIR-M, 60 SwinIR-S, 240 SwinIR-L).
    depths, num_heads : sequence of int
        Swin blocks and attention heads of each residual group.
    window_size : int
        Attention window side (8 in the released SR models).
    mlp_ratio : float
        MLP hidden width over ``embed_dim`` (2 in the released SR models).
    qkv_bias, patch_norm : bool
        Bias on the q/k/v projection; LayerNorm after the patch embedding (both true upstream).
    upscale : int
        2, 3, 4 or 8 (``pixelshuffle``), any (``pixelshuffledirect``), 2 or 4 (``nearest+conv``).
    img_range : float
        Upstream's scaling of the mean-subtracted input (1.0 in every released SR model).
    upsampler : str
        ``'pixelshuffle'`` (classical SR), ``'pixelshuffledirect'`` (lightweight) or
        ``'nearest+conv'`` (real-world SR).
    resi_connection : str
        ``'1conv'`` or ``'3conv'`` (SwinIR-L).
    """

    def __init__(
        self,
        in_chans=3,
        embed_dim=180,
        depths=(6, 6, 6, 6, 6, 6),
        num_heads=(6, 6, 6, 6, 6, 6),
        window_size=8,
        mlp_ratio=2.0,
        qkv_bias=True,
        patch_norm=True,
        upscale=2,
        img_range=1.0,
        upsampler="pixelshuffle",
        resi_connection="1conv",
    ):
        super().__init__()
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"unknown upsampler {upsampler!r} (known: {', '.join(UPSAMPLERS)})")
        if len(depths) != len(num_heads):
            raise ValueError("depths and num_heads need one entry per residual group")
        if upsampler == "pixelshuffle" and upscale not in (2, 3, 4, 8):
            raise ValueError(f"the pixelshuffle head upscales by 2, 3, 4 or 8, not {upscale}")
        if upsampler == "nearest+conv" and upscale not in (2, 4):
            raise ValueError(f"the nearest+conv head upscales by 2 or 4, not {upscale}")
        self.upscale, self.upsampler, self.img_range = int(upscale), upsampler, float(img_range)
        self.window_size, self.in_chans = int(window_size), int(in_chans)
        self.resi_connection, self.depths = resi_connection, tuple(depths)
        mean = RGB_MEAN if in_chans == 3 else (0.0,) * in_chans
        self.register_buffer("mean", torch.tensor(mean).view(1, in_chans, 1, 1), persistent=False)

        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = _PatchEmbed(embed_dim, patch_norm)
        self.layers = nn.ModuleList(
            RSTB(embed_dim, d, h, window_size, mlp_ratio, qkv_bias, resi_connection) for d, h in zip(depths, num_heads)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = _conv_block(embed_dim, resi_connection)

        if upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(
                nn.Conv2d(embed_dim, NUM_FEAT, 3, 1, 1), nn.LeakyReLU(inplace=True)
            )
            steps = [(3, 9)] if upscale == 3 else [(2, 4)] * (upscale.bit_length() - 1)
            up = []
            for factor, maps in steps:
                up += [nn.Conv2d(NUM_FEAT, maps * NUM_FEAT, 3, 1, 1), nn.PixelShuffle(factor)]
            self.upsample = nn.Sequential(*up)
            self.conv_last = nn.Conv2d(NUM_FEAT, in_chans, 3, 1, 1)
        elif upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(
                nn.Conv2d(embed_dim, upscale * upscale * in_chans, 3, 1, 1), nn.PixelShuffle(upscale)
            )
        else:
            self.conv_before_upsample = nn.Sequential(
                nn.Conv2d(embed_dim, NUM_FEAT, 3, 1, 1), nn.LeakyReLU(inplace=True)
            )
            self.conv_up1 = nn.Conv2d(NUM_FEAT, NUM_FEAT, 3, 1, 1)
            if upscale == 4:
                self.conv_up2 = nn.Conv2d(NUM_FEAT, NUM_FEAT, 3, 1, 1)
            self.conv_hr = nn.Conv2d(NUM_FEAT, NUM_FEAT, 3, 1, 1)
            self.conv_last = nn.Conv2d(NUM_FEAT, in_chans, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward_features(self, x):
        size = x.shape[-2:]
        t = self.patch_embed(_tokens(x))
        for layer in self.layers:
            t = layer(t, size)
        return _image(self.norm(t), size)

    def forward(self, x):
        h, w = x.shape[-2:]
        x = _mirror_pad(x, -h % self.window_size, -w % self.window_size)
        x = (x - self.mean.to(x.dtype)) * self.img_range
        x = self.conv_first(x)
        x = self.conv_after_body(self.forward_features(x)) + x
        if self.upsampler == "pixelshuffle":
            x = self.conv_last(self.upsample(self.conv_before_upsample(x)))
        elif self.upsampler == "pixelshuffledirect":
            x = self.upsample(x)
        else:
            x = self.conv_before_upsample(x)
            x = self.lrelu(self.conv_up1(F.interpolate(x, scale_factor=2, mode="nearest")))
            if self.upscale == 4:
                x = self.lrelu(self.conv_up2(F.interpolate(x, scale_factor=2, mode="nearest")))
            x = self.conv_last(self.lrelu(self.conv_hr(x)))
        x = x / self.img_range + self.mean.to(x.dtype)
        return x[..., : h * self.upscale, : w * self.upscale]

    def receptive_radius(self) -> int:
        """Input pixels each output pixel may depend on (each side), an upper bound: a window
        attention reaches ``window_size - 1`` pixels, each 3x3 convolution one.

        >>> SwinIR(embed_dim=8, depths=(2,), num_heads=(2,), window_size=4).receptive_radius()
        12
        """
        convs_per_group = 1 if self.resi_connection == "1conv" else 2
        head = {"pixelshuffle": 3, "pixelshuffledirect": 1, "nearest+conv": 4}[self.upsampler]
        return 2 + sum(self.depths) * (self.window_size - 1) + len(self.depths) * convs_per_group + head


def _mirror_pad(x, ph: int, pw: int):
    """Pad bottom / right by mirroring with the edge pixel repeated (upstream's test-time padding);
    inputs smaller than the padding are mirrored as often as needed."""
    for dim, pad in ((-2, ph), (-1, pw)):
        if pad:
            want = x.shape[dim] + pad
            while x.shape[dim] < want:
                x = torch.cat([x, x.flip(dim)], dim)
            x = x.narrow(dim, 0, want)
    return x


def strip_derived(state: dict) -> dict:
    """``state`` without the buffers upstream saves but this implementation recomputes
    (``...attn.relative_position_index``, ``...attn_mask``)."""
    return {k: v for k, v in state.items() if not k.endswith((".relative_position_index", ".attn_mask"))}
