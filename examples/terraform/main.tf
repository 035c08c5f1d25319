# The authorizer from the zip `make package` builds, protecting an existing REST API and an
# existing HTTP API. Checked by tests/test_examples.py (parsed, not applied: no Terraform here).

variable "issuer" {
  type        = string
  description = "The identity provider's issuer, e.g. https://myproject.authgear.cloud"
}

variable "audience" {
  type = string
}

variable "rest_api_id" {
  type        = string
  description = "An existing aws_api_gateway_rest_api"
}

variable "http_api_id" {
  type        = string
  description = "An existing aws_apigatewayv2_api (HTTP)"
}

variable "package" {
  type    = string
  default = "../../dist/apigw-oidc-authorizer-0.1.0-arm64.zip"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "authorizer" {
  name               = "oidc-authorizer"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

resource "aws_iam_role_policy_attachment" "logs" {
  role       = aws_iam_role.authorizer.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
}

resource "aws_lambda_function" "authorizer" {
  function_name    = "oidc-authorizer"
  role             = aws_iam_role.authorizer.arn
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
  handler          = "authorizer.app.lambda_handler"
  runtime          = "python3.13"
  architectures    = ["arm64"]
  memory_size      = 256
  timeout          = 10
  environment {
    variables = {
      JWT_ISSUER                   = var.issuer
      JWT_AUDIENCE                 = var.audience
      POWERTOOLS_SERVICE_NAME      = "oidc-authorizer"
      POWERTOOLS_METRICS_NAMESPACE = "OidcAuthorizer"
    }
  }
}

resource "aws_api_gateway_authorizer" "oidc" {
  name                             = "oidc"
  rest_api_id                      = var.rest_api_id
  type                             = "TOKEN"
  authorizer_uri                   = aws_lambda_function.authorizer.invoke_arn
  identity_source                  = "method.request.header.Authorization"
  authorizer_result_ttl_in_seconds = 300
}

resource "aws_apigatewayv2_authorizer" "oidc" {
  name                              = "oidc"
  api_id                            = var.http_api_id
  authorizer_type                   = "REQUEST"
  authorizer_uri                    = aws_lambda_function.authorizer.invoke_arn
  authorizer_payload_format_version = "2.0"
  enable_simple_responses           = true
  identity_sources                  = ["$request.header.Authorization", "$context.routeKey"]
  authorizer_result_ttl_in_seconds  = 300
}

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

# Each API may invoke the authorizer, and nothing else may: the permission names the API.
resource "aws_lambda_permission" "rest_api" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.rest_api_id}/authorizers/${aws_api_gateway_authorizer.oidc.id}"
}

resource "aws_lambda_permission" "http_api" {
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.authorizer.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:${data.aws_partition.current.partition}:execute-api:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:${var.http_api_id}/authorizers/${aws_apigatewayv2_authorizer.oidc.id}"
}
