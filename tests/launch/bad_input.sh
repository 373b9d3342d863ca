#!/usr/bin/env bash
# Every bad input to glm3d train ends in one clear line and exit code 2.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
expect_usage_error "unknown preset" "unknown model preset 'huge'" "$G" train --model huge --synthetic --steps 1
printf 'base = tiny\nhiden = 32\n' > "$WORK/badkey.ini"
expect_usage_error "bad INI key" "unknown key 'hiden'" "$G" train --model "$WORK/badkey.ini" --synthetic --steps 1
printf 'base = tiny\nhidden = -64\n' > "$WORK/neg.ini"
expect_usage_error "negative size" "hidden must be positive" "$G" train --model "$WORK/neg.ini" --synthetic --steps 1
printf 'base = tiny\nnum_heads = 6\n' > "$WORK/heads.ini"
expect_usage_error "heads not dividing hidden" "num_heads (6) must divide hidden (64)" "$G" train --model "$WORK/heads.ini" --synthetic --steps 1
expect_usage_error "zero steps" "--steps must be positive" "$G" train --model tiny --synthetic --steps 0
expect_usage_error "zero micro-batch" "--micro-batch must be positive" "$G" train --model tiny --synthetic --micro-batch 0
expect_usage_error "unknown option" "unknown option '--stpes'; did you mean '--steps'?" "$G" train --model tiny --synthetic --stpes 3
expect_usage_error "no data source" "give exactly one of --synthetic or --data" "$G" train --model tiny
expect_usage_error "unknown command" "unknown command 'trian'" "$G" trian
printf 'steps = abc\n' > "$WORK/cfg.ini"
expect_usage_error "bad value in --config file" "$WORK/cfg.ini:1: key 'steps' expects an integer, got 'abc'" "$G" train --model tiny --synthetic --config "$WORK/cfg.ini"
