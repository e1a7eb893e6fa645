# Held-out references for inference on GLMMs (issue 4): Wald z tables, Wald and profile
# intervals, Nakagawa R² (performance), conditional SDs of the random effects, likelihood-ratio
# tests. Fits use the tight glmerControl of make_extra.R (tolPwrss = 1e-12), at which our Laplace
# fits agree with lme4's to about 1e-5.
# Run from this folder: Rscript make_glmm_inference.R (needs lme4, performance, jsonlite).
# Writes inference/glmm_<id>.json.
suppressMessages({library(lme4); library(performance); library(jsonlite)})
dir.create("inference", showWarnings = FALSE)
gctrl <- glmerControl(optimizer = "nloptwrap", tolPwrss = 1e-12,
                      optCtrl = list(xtol_abs = 1e-10, ftol_abs = 1e-13, ftol_rel = 1e-14,
                                     maxeval = 1e5))
local_data <- function(name) {
  meta <- fromJSON(file.path("data", paste0(name, ".json")), simplifyVector = FALSE)
  x <- read.csv(gzfile(file.path("data", paste0(name, ".csv.gz"))), stringsAsFactors = FALSE)
  for (v in names(meta$columns)) if (meta$columns[[v]]$type == "categorical")
    x[[v]] <- factor(as.character(x[[v]]), levels = unlist(meta$columns[[v]]$levels))
  x
}
data(cbpp, package = "lme4")
datasets <- list(cbpp = cbpp, grouseticks = local_data("grouseticks"),
                 Mmmec = local_data("Mmmec"), positive = local_data("positive"))

coef_table <- function(fit) {
  cf <- summary(fit)$coefficients
  list(term = rownames(cf), estimate = unname(cf[, 1]), std.error = unname(cf[, 2]),
       statistic = unname(cf[, 3]), p.value = unname(cf[, 4]),
       statistic_label = colnames(cf)[3], p_label = colnames(cf)[4])
}
ci_frame <- function(ci) list(names = rownames(ci), lower = unname(ci[, 1]), upper = unname(ci[, 2]))
condvar <- function(fit) {
  d <- as.data.frame(ranef(fit, condVar = TRUE))
  list(grpvar = as.character(d$grpvar), term = as.character(d$term), grp = as.character(d$grp),
       condval = d$condval, condsd = d$condsd)
}
r2 <- function(fit) {
  r <- suppressWarnings(r2_nakagawa(fit))
  v <- suppressWarnings(insight::get_variance(fit))
  list(marginal = unname(r$R2_marginal), conditional = unname(r$R2_conditional),
       var_fixed = v$var.fixed, var_random = if (is.null(v$var.random)) NA else v$var.random,
       var_distribution = v$var.distribution, var_dispersion = v$var.dispersion)
}

specs <- list(
  list(id = "cbpp", dataset = "cbpp", family = "binomial",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)",
       null = "cbind(incidence, size - incidence) ~ 1 + (1 | herd)", profile = TRUE),
  list(id = "cbpp_probit", dataset = "cbpp", family = "binomial", link = "probit",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "grouse_poisson", dataset = "grouseticks", family = "poisson",
       formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
       null = "TICKS ~ YEAR + (1 | LOCATION)", profile = TRUE),
  list(id = "mmmec_obs", dataset = "Mmmec", family = "poisson",
       formula = "deaths ~ uvb + offset(log(expected)) + (1 | region) + (1 | county)"),
  list(id = "gamma_log", dataset = "positive", family = "Gamma", link = "log",
       formula = "ygamma ~ x + (1 | g)"),
  list(id = "grouse_negbin", dataset = "grouseticks", family = "negative.binomial",
       formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)")
)
if (nzchar(Sys.getenv("ONLY"))) specs <- Filter(function(s) s$id == Sys.getenv("ONLY"), specs)
for (s in specs) {
  d <- datasets[[s$dataset]]
  fam <- if (s$family == "negative.binomial") NULL
         else if (is.null(s$link)) get(s$family)() else get(s$family)(link = s$link)
  fit <- if (s$family == "negative.binomial") glmer.nb(as.formula(s$formula), d)
         else glmer(as.formula(s$formula), d, family = fam, control = gctrl)
  out <- list(id = s$id, dataset = s$dataset, formula = s$formula, family = s$family,
              link = s$link, objective = -2 * as.numeric(logLik(fit)),
              fixef = as.list(fixef(fit)), theta = unname(getME(fit, "theta")),
              sigma = sigma(fit), coef = coef_table(fit),
              wald = ci_frame(confint(fit, method = "Wald", oldNames = FALSE)),
              r2 = r2(fit), ranef = condvar(fit))
  if (s$family == "negative.binomial") out$nb_theta <- getME(fit, "glmer.nb.theta")
  if (isTRUE(s$profile)) {
    t0 <- Sys.time()
    out$profile <- ci_frame(confint(fit, method = "profile", oldNames = FALSE))
    out$profile_seconds <- as.numeric(Sys.time() - t0, units = "secs")
  }
  if (!is.null(s$null)) {
    m0 <- glmer(as.formula(s$null), d, family = fam, control = gctrl)
    a <- anova(m0, fit)
    out$anova <- list(null = s$null, npar = a$npar, AIC = a$AIC, BIC = a$BIC,
                      logLik = a$logLik, deviance = a$deviance, Chisq = a$Chisq[2],
                      Df = a$Df[2], p = a[["Pr(>Chisq)"]][2])
  }
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
             file.path("inference", paste0("glmm_", s$id, ".json")))
  cat(s$id, out$objective, "\n")
}
