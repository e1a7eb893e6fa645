# Held-out reference fits for multilevel's tests, made with lme4 at tight tolerances.
# Run from this folder: Rscript make_extra.R  (needs lme4, mlmRev, jsonlite; see shared/peers).
# Writes data/NAME.csv.gz + data/NAME.json for datasets not bundled with multilevel, and one
# NAME.json per model in the same format as the shared reference fits.
suppressMessages({library(lme4); library(jsonlite); library(mlmRev)})
shared <- "../../../../shared/data"
save_data <- function(d, name) {
  cols <- lapply(d, function(v) if (is.factor(v)) list(type = "categorical", levels = levels(v))
                 else list(type = if (is.integer(v)) "integer" else "numeric"))
  write.csv(d, gzfile(file.path("data", paste0(name, ".csv.gz"))), row.names = FALSE)
  writeLines(toJSON(list(name = name, nrow = nrow(d), columns = cols), auto_unbox = TRUE),
             file.path("data", paste0(name, ".json")))
}
load_shared <- function(name) {
  meta <- fromJSON(file.path(shared, paste0(name, ".json")), simplifyVector = FALSE)
  d <- read.csv(gzfile(file.path(shared, paste0(name, ".csv.gz"))), stringsAsFactors = FALSE)
  for (v in names(meta$columns)) if (meta$columns[[v]]$type == "categorical")
    d[[v]] <- factor(as.character(d[[v]]), levels = unlist(meta$columns[[v]]$levels))
  d
}
eg <- egsingle[, c("schoolid", "childid", "year", "math", "female")]
save_data(eg, "egsingle")
gt <- grouseticks[, c("INDEX", "TICKS", "BROOD", "HEIGHT", "YEAR", "LOCATION")]
gt$cHEIGHT <- gt$HEIGHT - mean(gt$HEIGHT)
save_data(gt, "grouseticks")
mm <- Mmmec[, c("nation", "region", "county", "deaths", "expected", "uvb")]
save_data(mm, "Mmmec")
set.seed(20261125)
g <- factor(rep(sprintf("g%02d", 1:30), each = 12)); x <- rnorm(360)
mu <- exp(1 + 0.4 * x + rnorm(30, sd = 0.5)[as.integer(g)])
pos <- data.frame(g = g, x = x, ygamma = rgamma(360, shape = 4, scale = mu / 4))
save_data(pos, "positive")

lctrl <- lmerControl(optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-13, ftol_rel = 1e-14, maxeval = 1e5))
gctrl <- glmerControl(optimizer = "nloptwrap", tolPwrss = 1e-12,
                      optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-13, ftol_rel = 1e-14, maxeval = 1e5))
models <- list(
  list(id = "sleep_poly_slopes", dataset = "sleepstudy", formula = "Reaction ~ poly(Days, 2) + (poly(Days, 2) | Subject)", REML = TRUE),
  list(id = "sleep_quadratic_uncorr", dataset = "sleepstudy", formula = "Reaction ~ Days + I(Days^2) + (Days + I(Days^2) || Subject)", REML = FALSE),
  list(id = "hsb_factor_slope", dataset = "Hsb82", formula = "mAch ~ ses + sx + (sx | school)", REML = TRUE),
  list(id = "hsb_weighted_offset", dataset = "Hsb82", formula = "mAch ~ cses + offset(meanses) + (1 + cses | school)", REML = FALSE),
  list(id = "egsingle_3level", dataset = "egsingle", formula = "math ~ year * female + (year | schoolid/childid)", REML = TRUE, local = TRUE),
  list(id = "pastes_interaction", dataset = "Pastes", formula = "strength ~ 1 + (1 | batch) + (1 | batch:cask)", REML = FALSE),
  list(id = "scots_crossed_slopes", dataset = "ScotsSec", formula = "attain ~ verbal * sex + (verbal | primary) + (verbal || second)", REML = TRUE),
  list(id = "grouse_poisson_obs", dataset = "grouseticks", formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", family = "poisson", local = TRUE),
  list(id = "verbagg_quadratic", dataset = "VerbAgg", formula = "r2 ~ Anger + I(Anger^2) + Gender + btype + (1 | id)", family = "binomial"),
  list(id = "mmmec_offset", dataset = "Mmmec", formula = "deaths ~ uvb + offset(log(expected)) + (1 | region)", family = "poisson", local = TRUE),
  list(id = "cbpp_laplace_tight", dataset = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", family = "binomial"),
  list(id = "cbpp_probit", dataset = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", family = "binomial", link = "probit"),
  list(id = "gamma_log", dataset = "positive", formula = "ygamma ~ x + (1 | g)", family = "Gamma", link = "log", local = TRUE),
  list(id = "grouse_negbin", dataset = "grouseticks", formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", family = "negative.binomial", local = TRUE),
  list(id = "cbpp_cloglog", dataset = "cbpp", formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)", family = "binomial", link = "cloglog"),
  list(id = "invgauss_log", dataset = "positive", formula = "ygamma ~ x + (1 | g)", family = "inverse.gaussian", link = "log", local = TRUE),
  list(id = "mmmec_agq", dataset = "Mmmec", formula = "deaths ~ uvb + offset(log(expected)) + (1 | region)", family = "poisson", nAGQ = 9, local = TRUE)
)
if (nzchar(Sys.getenv("ONLY"))) models <- Filter(function(s) s$id == Sys.getenv("ONLY"), models)
for (s in models) {
  d <- if (isTRUE(s$local)) {
    meta <- fromJSON(file.path("data", paste0(s$dataset, ".json")), simplifyVector = FALSE)
    x <- read.csv(gzfile(file.path("data", paste0(s$dataset, ".csv.gz"))), stringsAsFactors = FALSE)
    for (v in names(meta$columns)) if (meta$columns[[v]]$type == "categorical")
      x[[v]] <- factor(as.character(x[[v]]), levels = unlist(meta$columns[[v]]$levels))
    x
  } else load_shared(s$dataset)
  fam <- if (is.null(s$family)) "gaussian" else s$family
  nagq <- if (is.null(s$nAGQ)) 1 else s$nAGQ
  fit <- if (fam == "gaussian") lmer(as.formula(s$formula), d, REML = s$REML, control = lctrl)
         else if (fam == "negative.binomial") glmer.nb(as.formula(s$formula), d)
         else glmer(as.formula(s$formula), d, family = if (is.null(s$link)) get(fam)() else get(fam)(link = s$link),
                    nAGQ = nagq, control = gctrl)
  vc <- as.data.frame(VarCorr(fit))
  re <- ranef(fit)
  out <- list(id = s$id, dataset = s$dataset, formula = s$formula, family = fam,
              link = s$link, REML = if (fam == "gaussian") s$REML else FALSE, nAGQ = nagq,
              nobs = nobs(fit), ngroups = as.list(ngrps(fit)),
              fixef = as.list(fixef(fit)), se = as.list(sqrt(diag(as.matrix(vcov(fit))))),
              theta = unname(getME(fit, "theta")), sigma = sigma(fit),
              varcorr = lapply(seq_len(nrow(vc)), function(i) {
                r <- as.list(vc[i, ]); r[sapply(r, function(x) length(x) == 1 && is.na(x))] <- NULL; r }),
              objective = -2 * as.numeric(logLik(fit)), singular = isSingular(fit),
              ranef = lapply(re, function(f) lapply(as.list(f), function(v) head(v, 5))),
              ranef_levels = lapply(re, function(f) head(rownames(f), 5)))
  if (fam == "negative.binomial") out$nb_theta <- getME(fit, "glmer.nb.theta")
  if (nagq > 1) {
    y <- getME(fit, "y"); w <- weights(fit)
    sat <- if (fam == "poisson") -2 * sum(dpois(y, y, log = TRUE))
           else -2 * sum(dbinom(round(w * y), round(w), y, log = TRUE))
    out$objective_full <- out$objective + sat
    out$objective_note <- "objective: lme4's nAGQ > 1 value; objective_full adds -2 x the saturated log-likelihood"
  }
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null"), paste0(s$id, ".json"))
  cat(s$id, out$objective, "\n")
}
