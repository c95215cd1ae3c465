"""The math of sde-edit: pure torch, no ComfyUI (docs/design.md §1–§3, §7).

schedule    the Gaussian path x = a·x0 + s·ε of each model family, and level grids
kernels     the one-step kernels: forward (Eq. 7), DDIM (Eq. 6, Algs. 2/4), DDPM (Alg. 3),
            Cycle-SDE noise (Eq. 8, Alg. 5) and the coupled step shared with sync-SDE
trajectory  the immutable record stage 1 makes and stage 2 reads
guidance    per-step guidance scales; the falling LoRA scale
samplers    stage 1 (forward_trajectory, ddim_invert, record_cycle_sde) and stage 2 (sample)
analytic    exact denoisers of Gaussian data (test oracles)
diffedit    DiffEdit's mask from two noise predictions (§5)
sync        sync-SDE: a target path coupled to the source path's noise (§6)
"""

from .analytic import Gaussian, GaussianMixture, Guided
from .diffedit import PairDenoiser, binary_mask, diffedit_mask, soft_map
from .guidance import falling_lora_scale, guidance_scales
from .kernels import (
    coupled_step,
    cycle_noise,
    cycle_residual,
    ddim_step,
    ddpm_mean,
    ddpm_std,
    ddpm_step,
    em_mean,
    em_std,
    eps_hat,
    forward_step,
)
from .samplers import (
    Callback,
    Denoiser,
    NoiseSampler,
    ddim_invert,
    forward_trajectory,
    gaussian_noise,
    record_cycle_sde,
    sample,
)
from .schedule import PATHS, check_sigmas, check_steps, check_t0, coeffs, full_steps, keep_tail
from .sync import DISCRETIZATIONS, paired, sync_sde
from .trajectory import KINDS, METHODS, Trajectory

__all__ = [
    "DISCRETIZATIONS",
    "KINDS",
    "METHODS",
    "PATHS",
    "Callback",
    "Denoiser",
    "Gaussian",
    "GaussianMixture",
    "Guided",
    "NoiseSampler",
    "PairDenoiser",
    "Trajectory",
    "binary_mask",
    "check_sigmas",
    "check_steps",
    "check_t0",
    "coeffs",
    "coupled_step",
    "cycle_noise",
    "cycle_residual",
    "ddim_invert",
    "ddim_step",
    "ddpm_mean",
    "ddpm_std",
    "ddpm_step",
    "diffedit_mask",
    "em_mean",
    "em_std",
    "eps_hat",
    "forward_step",
    "forward_trajectory",
    "full_steps",
    "gaussian_noise",
    "falling_lora_scale",
    "guidance_scales",
    "keep_tail",
    "paired",
    "record_cycle_sde",
    "sample",
    "soft_map",
    "sync_sde",
]
