# Makes schools_sim.csv.gz and schools_sim.json: a simulated, unbalanced two-level data set
# (pupils in schools) with R's answers for the workflow functions. Not part of the test run;
# rerun with R 4.2.2, lme4 1.1-31, sandwich 3.0-2, clubSandwich 0.5.8, plm 2.6-2,
# performance 0.10.2:   Rscript make_schools_reference.R
suppressMessages({
  library(lme4); library(sandwich); library(clubSandwich); library(plm); library(performance)
  library(jsonlite)
})
set.seed(20240607)
J <- 70
size <- sample(c(1, 2, 3, 5:60), J, replace = TRUE)
school <- rep(sprintf("s%03d", seq_len(J)), size)
u <- rnorm(J, sd = 1.7)
zs <- rnorm(J)
type <- factor(sample(c("state", "church", "private"), J, replace = TRUE),
               levels = c("state", "church", "private"))
g <- match(school, sprintf("s%03d", seq_len(J)))
x <- rnorm(length(g)) + 0.6 * u[g]
score <- 50 + 2.5 * x + 1.2 * zs[g] + c(0, 1.5, 3)[as.integer(type)][g] + u[g] +
  rnorm(length(g), sd = 4 * (1 + 0.3 * abs(x)))
d <- data.frame(school = school, x = round(x, 4), z = round(zs[g], 4), type = type[g],
                score = round(score, 3))
d$score[c(7, 100)] <- NA
d$x[250] <- NA
gz <- gzfile("schools_sim.csv.gz", "w"); write.csv(d, gz, row.names = FALSE); close(gz)

cc <- d[complete.cases(d), ]
ref <- list()
# icc_anova on score by school (rows with missing score dropped; x is not used)
ds <- d[!is.na(d$score), ]
n <- table(ds$school); N <- sum(n); Jn <- length(n)
tab <- summary(aov(score ~ factor(school), ds))[[1]]
msb <- tab[1, "Mean Sq"]; msw <- tab[2, "Mean Sq"]
n0 <- (N - sum(n^2) / N) / (Jn - 1)
Fs <- msb / msw
fl <- Fs / qf(0.975, Jn - 1, N - Jn); fu <- Fs / qf(0.025, Jn - 1, N - Jn)
ref$icc_anova <- list(icc = (msb - msw) / (msb + (n0 - 1) * msw), msb = msb, msw = msw, n0 = n0,
                      lower = (fl - 1) / (fl + n0 - 1), upper = (fu - 1) / (fu + n0 - 1),
                      ss_ratio = tab[1, "Sum Sq"] / sum(tab[, "Sum Sq"]))
m0 <- lmer(score ~ 1 + (1 | school), ds)
ref$icc_model <- list(adjusted = icc(m0)$ICC_adjusted)
m1 <- lmer(score ~ x + z + type + (1 + x | school), cc)
ic <- icc(m1)
ref$icc_slope <- list(adjusted = ic$ICC_adjusted, conditional = ic$ICC_conditional)
fo <- score ~ x + z + type
l <- lm(fo, cc)
ref$ols <- list(coef = as.list(coef(l)),
                se_iid = as.list(sqrt(diag(vcov(l)))),
                se_hc1 = as.list(sqrt(diag(vcovHC(l, type = "HC1")))),
                se_cr1 = as.list(sqrt(diag(vcovCL(l, cluster = ~school, type = "HC1")))),
                se_cr2 = as.list(sqrt(diag(vcovCR(l, cluster = cc$school, type = "CR2")))),
                df_cr2 = as.list(setNames(coef_test(l, vcov = "CR2", cluster = cc$school,
                                                    test = "Satterthwaite")$df_Satt,
                                          names(coef(l)))))
pf <- score ~ x + z + type
re <- plm(pf, cc, index = "school", model = "random")
fe <- plm(pf, cc, index = "school", model = "within")
be <- plm(pf, cc, index = "school", model = "between")
po <- plm(pf, cc, index = "school", model = "pooling")
h <- phtest(fe, re)
se <- function(m) as.list(sqrt(diag(vcov(m))))
ref$panel <- list(re_coef = as.list(coef(re)), re_se = se(re),
                  re_sigma2 = as.list(ercomp(re)$sigma2),
                  fe_coef = as.list(coef(fe)), fe_se = se(fe),
                  between_coef = as.list(coef(be)), between_se = se(be),
                  pooled_coef = as.list(coef(po)), pooled_se = se(po),
                  hausman_stat = unname(h$statistic), hausman_df = unname(h$parameter),
                  hausman_p = h$p.value)
writeLines(toJSON(ref, auto_unbox = TRUE, digits = NA, pretty = TRUE), "schools_sim.json")
