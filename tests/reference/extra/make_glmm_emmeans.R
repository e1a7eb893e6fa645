# References for emmeans and type III Wald tests on GLMMs (issue 4): emmeans 1.8.4-1 and
# car 3.1-1 on glmer fits with the tight glmerControl of make_glmm_inference.R.
# Run from this folder: Rscript make_glmm_emmeans.R (needs lme4, emmeans, car, jsonlite).
# Writes inference/glmm_emmeans.json.
suppressMessages({library(lme4); library(emmeans); library(car); library(jsonlite)})
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
datasets <- list(cbpp = cbpp, grouseticks = local_data("grouseticks"))
frame <- function(x) { x <- as.data.frame(x); for (v in names(x)) if (is.factor(x[[v]]))
  x[[v]] <- as.character(x[[v]]); as.list(x) }
specs <- list(
  list(id = "cbpp", dataset = "cbpp", family = "binomial", spec = "period",
       formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"),
  list(id = "grouse", dataset = "grouseticks", family = "poisson", spec = "YEAR",
       formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)"),
  # interaction, fitted with sum-to-zero contrasts so that car's type III (which tests the
  # coefficients as coded) is the coding-invariant hypothesis; nloptwrap stops early on this
  # badly scaled model (max|grad| 0.14), bobyqa reaches the optimum
  list(id = "grouse_int", dataset = "grouseticks", family = "poisson", spec = "YEAR",
       formula = "TICKS ~ YEAR * cHEIGHT + (1 | LOCATION)", sum = TRUE, bobyqa = TRUE)
)
out <- list()
for (s in specs) {
  d <- datasets[[s$dataset]]
  old <- options(contrasts = if (isTRUE(s$sum)) c("contr.sum", "contr.poly")
                             else c("contr.treatment", "contr.poly"))
  ctrl <- if (isTRUE(s$bobyqa)) glmerControl(optimizer = "bobyqa", tolPwrss = 1e-12,
                                             optCtrl = list(maxfun = 1e5)) else gctrl
  fit <- glmer(as.formula(s$formula), d, family = get(s$family)(), control = ctrl)
  emm <- emmeans(fit, s$spec)
  a <- Anova(fit, type = 3)
  out[[s$id]] <- list(
    id = s$id, dataset = s$dataset, formula = s$formula, family = s$family, spec = s$spec,
    sum_contrasts = isTRUE(s$sum), fixef = as.list(fixef(fit)),
    emmeans = frame(summary(emm)),
    emmeans_response = frame(summary(emm, type = "response")),
    pairs = frame(summary(pairs(emm), infer = TRUE)),
    pairs_response = frame(summary(pairs(emm), type = "response", infer = TRUE)),
    pairs_bonferroni = frame(summary(pairs(emm, adjust = "bonferroni"), infer = TRUE)),
    anova = list(term = rownames(a), Chisq = a$Chisq, Df = a$Df, p = a[["Pr(>Chisq)"]]))
  options(old)
}
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "inference/glmm_emmeans.json")
